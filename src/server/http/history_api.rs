//! `GET /api/rooms/{room}/messages?before=<seq>&limit=<n>`: a room's history, page by page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::protocol::{ErrorCode, PAGE_SIZE};
use crate::server::rooms::access::{self, ReadDenied};
use crate::server::state::AppState;
use crate::server::store::Store;

/// Largest page served; larger requests are refused rather than silently cut.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Query parameters, kept as text so that a bad value gets Huddle's own error body.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

pub async fn messages(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize_read(&state, &headers, &room).await {
        return refused;
    }
    let exists = match room_exists(&state, &room).await {
        Ok(exists) => exists,
        Err(unavailable) => return unavailable,
    };
    if !exists {
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownRoom,
            format!("room {room:?} does not exist"),
        );
    }
    let before = match query.before.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(seq)) => Some(seq),
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidSeq,
                "before must be a non-negative integer seq".into(),
            )
        }
    };
    let limit = match query.limit.as_deref().map(str::parse::<u32>) {
        None => PAGE_SIZE,
        Some(Ok(limit)) if (1..=MAX_PAGE_SIZE).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidFrame,
                format!("limit must be an integer from 1 to {MAX_PAGE_SIZE}"),
            )
        }
    };
    match page(state.store.as_ref(), &room, before, limit).await {
        Ok(page) => Json(page).into_response(),
        Err(message) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            message,
        ),
    }
}

/// Refuses a reader who may not see `room`: 401 without any identity where guests are not
/// allowed, 403 for a DM that is not theirs, 404 for what cannot be a room.
async fn authorize_read(state: &AppState, headers: &HeaderMap, room: &str) -> Result<(), Response> {
    let refused = |denied: ReadDenied| {
        let code = match &denied {
            ReadDenied::NotARoom(_) => ErrorCode::UnknownRoom,
            ReadDenied::LogInFirst | ReadDenied::Private(_) => ErrorCode::Forbidden,
            ReadDenied::Store(_) => ErrorCode::StoreUnavailable,
        };
        error(denied.status(), code, denied.to_string())
    };
    let identity = state
        .auth
        .identify(headers)
        .await
        .map_err(|err| refused(err.into()))?;
    access::authorize_read(&state.auth, &state.directory, room, identity.as_ref())
        .await
        .map_err(refused)
}

/// One page of history; shared by this endpoint and the page's own loading.
pub async fn page(
    store: &dyn Store,
    room: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<crate::protocol::HistoryPage, String> {
    store
        .page(room, before, limit)
        .await
        .map_err(|err| format!("cannot load history: {err}"))
}

/// Whether `room` exists (someone joined it, it is a DM, or it has history); a 503 answer if
/// the store cannot say. Shared with the post API.
pub async fn room_exists(state: &AppState, room: &str) -> Result<bool, Response> {
    state.directory.exists(room).await.map_err(|err| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            format!("{err}; try again"),
        )
    })
}

pub fn error(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (
        status,
        Json(crate::protocol::ServerFrame::Error { code, message }),
    )
        .into_response()
}
