//! `GET /ws`: who may open a chat socket. Checked before upgrading, so a refusal is a plain
//! HTTP answer: during shutdown (503 with Retry-After), a page from another origin (403),
//! nobody while guests are not allowed (401), a person or a client address already holding
//! its cap of sockets (429).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::server::auth::Identity;
use crate::server::connection::task::ConnectionTask;
use crate::server::http::client_address::{client_address, quota_key};
use crate::server::http::origin;
use crate::server::hub::socket_quota::Admission;
use crate::server::metrics::Upgrade;
use crate::server::state::AppState;
use crate::server::transport::listener::AcceptedSocket;
use crate::server::transport::socket_policy;
use crate::server::transport::upgrade::SocketUpgrade;

/// Retry-After, in seconds, on upgrades refused during shutdown.
const RETRY_AFTER_SECS: &str = "5";

/// `GET /ws`'s query, kept as text so that a bad value gets Huddle's own answer.
#[derive(Debug, serde::Deserialize)]
pub struct SocketQuery {
    /// The last seq of the lobby the client holds: the lobby resumes from there.
    since: Option<String>,
}

/// `GET /ws[?since=S]`: upgrades to a chat connection, in the lobby from the start: live from
/// now, or from after seq `S`.
///
/// Refused before upgrading: a `since` that is not a seq (400), a page from another origin
/// (403), nobody while guests are not allowed (401), a person or a client address already
/// holding its cap of sockets (429).
pub async fn upgrade(
    State(state): State<AppState>,
    accepted: Option<Extension<ConnectInfo<AcceptedSocket>>>,
    Query(query): Query<SocketQuery>,
    headers: HeaderMap,
    ws: SocketUpgrade,
) -> Response {
    if state.shutdown.has_begun() {
        state.metrics.upgrade(Upgrade::ShuttingDown);
        return refuse_during_shutdown();
    }
    let metrics = &state.metrics;
    let refuse = |outcome: Upgrade, status: StatusCode, why: &'static str| {
        metrics.upgrade(outcome);
        (status, why).into_response()
    };
    let Ok(lobby_since) = query.since.as_deref().map(str::parse::<u64>).transpose() else {
        return refuse(
            Upgrade::BadSince,
            StatusCode::BAD_REQUEST,
            "since must be a whole number: the last seq of the lobby you hold\n",
        );
    };
    if !origin::is_allowed(&headers, &state.config.allowed_origins) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "refused a socket from another origin");
        return refuse(
            Upgrade::ForeignOrigin,
            StatusCode::FORBIDDEN,
            "this origin may not open a socket here\n",
        );
    }
    let identity = match state.auth.identify(&headers).await {
        Ok(Some(identity)) => identity,
        Ok(None) => match state.auth.anonymous_guest() {
            Some(guest) => guest,
            None => {
                return refuse(
                    Upgrade::LoginRequired,
                    StatusCode::UNAUTHORIZED,
                    "log in to chat\n",
                )
            }
        },
        Err(err) => {
            tracing::error!(%err, "cannot look up a session");
            return refuse(
                Upgrade::SessionsUnavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "sessions are unavailable\n",
            );
        }
    };
    let tcp = accepted.map(|Extension(ConnectInfo(socket))| socket);
    let client = tcp.map(|tcp| {
        let address = client_address(tcp.peer().ip(), &headers, &state.config.trusted_proxies);
        quota_key(address)
    });
    let admission = match admit(&state, &identity, client) {
        Ok(admission) => admission,
        Err((outcome, why)) => return refuse(outcome, StatusCode::TOO_MANY_REQUESTS, why),
    };
    let task = ConnectionTask {
        id: state.next_connection_id(),
        user: Arc::new(identity.user),
        lobby_since,
        session: identity.session,
        client,
        _admission: admission,
        _guard: state.shutdown.guard(),
        core: state.core.clone(),
        // A WebSocket is upgraded from HTTP/1.1 only (src/server/transport/upgrade.rs), so the TCP
        // connection is this socket's alone.
        tcp,
    };
    state.metrics.upgrade(Upgrade::Accepted);
    ws.on_upgrade(
        socket_policy::websocket_config(&state.config),
        move |socket| task.run(socket),
    )
}

/// Takes the socket's places under the caps: its person's, for people with a session
/// (anonymous guests get a new id per connection, so a cap per person cannot bind them), and
/// its client address's, signed in or not. A place taken is given back if the other is
/// refused.
fn admit(
    state: &AppState,
    identity: &Identity,
    client: Option<IpAddr>,
) -> Result<Admission, (Upgrade, &'static str)> {
    let config = &state.config;
    let person = match &identity.session {
        Some(_) => Some(
            state
                .sockets_per_person
                .admit(
                    Arc::from(identity.user.id.as_str()),
                    config.max_sockets_per_user,
                )
                .ok_or((
                    Upgrade::PersonCap,
                    "too many open sockets for this person; close a tab\n",
                ))?,
        ),
        None => None,
    };
    let address = match client {
        Some(client) if config.max_sockets_per_address > 0 => {
            let place = state
                .sockets_per_address
                .admit(client, config.max_sockets_per_address);
            if place.is_none() {
                tracing::debug!(%client, "refused a socket: its address holds its cap");
            }
            Some(place.ok_or((
                Upgrade::AddressCap,
                "too many open sockets from this address\n",
            ))?)
        }
        _ => None,
    };
    Ok(Admission { person, address })
}

pub fn refuse_during_shutdown() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        "server is shutting down\n",
    )
        .into_response()
}
