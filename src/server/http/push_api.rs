//! Server push for backends: post to a room as a bot, or send a notice to everyone (or one
//! person) connected. Both need an API token (`Authorization: Bearer …`, see
//! [`crate::server::auth::api_tokens`]).
//!
//! - `POST /api/rooms/{room}/messages` `{"text":…, "client_id"?:…}`: stored and broadcast like
//!   any message, answered after the commit with `201 {"room","id","seq","client_id"}` (`200`
//!   with the first copy for a repeated client_id, so a retry is safe).
//! - `POST /api/notify` `{"text":…, "user"?:<user id>}`: a `notice` frame to every open
//!   connection (or that person's), answered `202 {"delivered":N}`. Notices are not stored:
//!   people who are offline do not get them later.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::protocol::{
    check_client_id, check_room_name, check_text, is_dm_room, ErrorCode, ServerFrame, User,
    MAX_NOTICE_CHARS,
};
use crate::server::auth::api_tokens;
use crate::server::clock::unix_millis;
use crate::server::connection::inbound::Refusal;
use crate::server::http::history_api::{error, room_exists};
use crate::server::state::AppState;
use crate::server::store::{Appended, NewMessage};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    text: String,
    client_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Posted {
    pub room: String,
    pub id: String,
    pub seq: u64,
    pub client_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    text: String,
    user: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notified {
    /// Connections the notice was queued for.
    pub delivered: usize,
}

pub async fn post_message(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PostMessage>, JsonRejection>,
) -> Response {
    let bot = match authenticate(&state, &headers).await {
        Ok(bot) => bot,
        Err(refused) => return refused,
    };
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(ErrorCode::InvalidFrame, rejection.body_text()),
    };
    if check_room_name(&room).is_err() {
        return bad_request(
            ErrorCode::InvalidRoom,
            format!("{room:?} is not a room name"),
        );
    }
    if is_dm_room(&room) {
        return error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "bots may not post in direct messages".into(),
        );
    }
    let exists = match room_exists(&state, &room).await {
        Ok(exists) => exists,
        Err(unavailable) => return unavailable,
    };
    if !exists {
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownRoom,
            format!("room {room:?} does not exist; someone must join it first"),
        );
    }
    // The same rules, and words, as a `send` on a socket.
    let checked = check_text(&body.text)
        .and_then(|()| body.client_id.as_deref().map_or(Ok(()), check_client_id));
    if let Err(code) = checked {
        return bad_request(code, Refusal::from(code).message);
    }
    let bot_user = User {
        id: format!("bot-{bot}"),
        name: bot.clone(),
    };
    let message = NewMessage::new(room, body.client_id, bot_user, body.text);
    let client_id = message.client_id.clone();
    tracing::info!(bot = %bot, room = %message.room, id = %message.id, "bot posted");
    match state.committer.submit(message).await.outcome().await {
        Ok(appended) => {
            let status = match appended {
                Appended::Stored(_) => StatusCode::CREATED,
                Appended::Duplicate(_) => StatusCode::OK,
            };
            let message = appended.message();
            let posted = Posted {
                room: message.room.clone(),
                id: message.id.clone(),
                seq: message.seq,
                client_id,
            };
            (status, Json(posted)).into_response()
        }
        Err(err) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            format!("{err}; retry with the same client_id"),
        ),
    }
}

pub async fn notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Notify>, JsonRejection>,
) -> Response {
    let from = match authenticate(&state, &headers).await {
        Ok(name) => name,
        Err(refused) => return refused,
    };
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(ErrorCode::InvalidFrame, rejection.body_text()),
    };
    if body.text.trim().is_empty() || body.text.chars().count() > MAX_NOTICE_CHARS {
        return bad_request(
            ErrorCode::TextTooLong,
            format!("a notice has 1 to {MAX_NOTICE_CHARS} characters"),
        );
    }
    let frame = ServerFrame::Notice {
        text: body.text,
        from: from.clone(),
        ts: unix_millis(),
    };
    let delivered = state
        .broker
        .send_to_people(&frame.to_json(), body.user.as_deref());
    tracing::info!(from = %from, delivered, to_one = body.user.is_some(), "notice pushed");
    (StatusCode::ACCEPTED, Json(Notified { delivered })).into_response()
}

/// The name of the request's API token, or the 401 to answer.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, Response> {
    match api_tokens::authenticate(state.tokens.as_ref(), headers).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden,
            "an API token is required: Authorization: Bearer <token>".into(),
        )),
        Err(err) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            err.to_string(),
        )),
    }
}

fn bad_request(code: ErrorCode, message: String) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}
