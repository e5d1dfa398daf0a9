//! `GET /ws`: who may open a chat socket. Checked before upgrading, so a refusal is a plain
//! HTTP answer: during shutdown (503 with Retry-After), a page from another origin (403),
//! nobody while guests are not allowed (401), a person already holding their cap of sockets
//! (429).

use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::server::connection::task::ConnectionTask;
use crate::server::http::origin;
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
/// (403), nobody while guests are not allowed (401), a person already holding their cap of
/// sockets (429).
pub async fn upgrade(
    State(state): State<AppState>,
    accepted: Option<Extension<ConnectInfo<AcceptedSocket>>>,
    Query(query): Query<SocketQuery>,
    headers: HeaderMap,
    ws: SocketUpgrade,
) -> Response {
    if state.shutdown.has_begun() {
        return refuse_during_shutdown();
    }
    let Ok(lobby_since) = query.since.as_deref().map(str::parse::<u64>).transpose() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "since must be a whole number: the last seq of the lobby you hold\n",
        );
    };
    if !origin::is_allowed(&headers, &state.config.allowed_origins) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "refused a socket from another origin");
        return refuse(
            StatusCode::FORBIDDEN,
            "this origin may not open a socket here\n",
        );
    }
    let identity = match state.auth.identify(&headers).await {
        Ok(Some(identity)) => identity,
        Ok(None) => match state.auth.anonymous_guest() {
            Some(guest) => guest,
            None => return refuse(StatusCode::UNAUTHORIZED, "log in to chat\n"),
        },
        Err(err) => {
            tracing::error!(%err, "cannot look up a session");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "sessions are unavailable\n",
            );
        }
    };
    // Anonymous guests get a new id per connection, so a cap per person cannot bind them;
    // only people with a session are counted (and spared the bookkeeping otherwise).
    let admission = match &identity.session {
        Some(_) => match state
            .registry
            .admit(&identity.user.id, state.config.max_sockets_per_user)
        {
            Some(admission) => Some(admission),
            None => {
                return refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many open sockets for this person; close a tab\n",
                )
            }
        },
        None => None,
    };
    let task = ConnectionTask {
        id: state.next_connection_id(),
        user: Arc::new(identity.user),
        lobby_since,
        session: identity.session,
        _admission: admission,
        _guard: state.shutdown.guard(),
        core: state.core.clone(),
        // A WebSocket is upgraded from HTTP/1.1 only (src/server/transport/upgrade.rs), so the TCP
        // connection is this socket's alone.
        tcp: accepted.map(|Extension(ConnectInfo(socket))| socket),
    };
    ws.on_upgrade(
        socket_policy::websocket_config(&state.config),
        move |socket| task.run(socket),
    )
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

pub fn refuse_during_shutdown() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        "server is shutting down\n",
    )
        .into_response()
}
