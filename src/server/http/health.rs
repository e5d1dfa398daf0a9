//! `/healthz` and `/readyz`, for load balancers, orchestrators and people.
//!
//! - `/healthz`: the process is alive and serving HTTP. Always 200, even while draining: a
//!   liveness probe that failed during a drain would get the process killed mid-drain.
//! - `/readyz`: this node should be sent new clients. 200 when the database answers, history
//!   can be written (after a failed commit, a probe write must succeed: the disk was full or
//!   the file locked), Redis answers and this node is subscribed to the others (when `--redis`
//!   is set), and it is not shutting down; otherwise 503 with what failed. Sockets already open keep being served
//!   either way: a node without Redis still stores and acks, it only cannot tell the others.
//!
//! Both answer JSON and never cache. Each check is bounded by [`CHECK_TIMEOUT`], so a probe
//! gets an answer even from a node whose database hangs.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::server::state::AppState;

/// Longest a readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize)]
struct Liveness {
    status: &'static str,
}

/// `/readyz`'s body.
#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Shutting down: new sockets are refused, the open ones are closing.
    draining: bool,
    database: Check,
    /// Whether messages can be stored: the last commit succeeded, or a probe write since.
    history: Check,
    /// Absent on a node of its own (no `--redis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<Check>,
}

#[derive(Debug, Serialize)]
struct Check {
    ok: bool,
    /// How long the check took, in milliseconds.
    ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    async fn run(check: impl Future<Output = Result<(), String>>) -> Check {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        Check {
            ok: outcome.is_ok(),
            ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            error: outcome.err(),
        }
    }
}

/// `GET /healthz`.
pub async fn healthz() -> Response {
    answer(StatusCode::OK, Liveness { status: "alive" })
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = Check::run(async {
        state
            .store
            .ping()
            .await
            .map_err(|err| format!("the database does not answer: {err}"))
    });
    let redis = async {
        match state.broker.reachability() {
            Some(reachable) => Some(Check::run(reachable).await),
            None => None,
        }
    };
    let history = Check::run(async {
        let Some(failure) = state.committer.health().failure() else {
            return Ok(());
        };
        match state.store.probe_write().await {
            Ok(()) => {
                state.committer.health().succeeded();
                Ok(())
            }
            Err(err) => Err(format!(
                "messages cannot be stored: the last commit failed ({failure}); a probe write \
                 failed too ({err})"
            )),
        }
    });
    let (database, history, redis) = tokio::join!(database, history, redis);
    let draining = state.shutdown.has_begun();
    let ready =
        !draining && database.ok && history.ok && redis.as_ref().is_none_or(|redis| redis.ok);
    if !ready {
        tracing::debug!(draining, ?database, ?history, ?redis, "not ready");
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    answer(
        status,
        Readiness {
            status: word,
            draining,
            database,
            history,
            redis,
        },
    )
}

fn answer(status: StatusCode, body: impl Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
