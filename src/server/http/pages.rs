//! The room pages, `/` (the lobby) and `/r/{room}`: what the page shows is loaded first, then
//! rendered with nothing left to wait for (see `LoadedRoom` for why).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::provide_context;

use crate::app::api::server_side::{room_snapshot, Refusal};
use crate::app::room_page::LoadedRoom;
use crate::app::shell;
use crate::i18n::Problem;
use crate::protocol::{check_room_name, is_dm_room, LOBBY};
use crate::server::http::language::request_locale;
use crate::server::http::security_headers;
use crate::server::state::AppState;

/// A page's query: `?before=S` shows the page of history before seq `S` (the "Load older
/// messages" form without JavaScript). Kept as text so that a bad value gets Huddle's answer.
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    before: Option<String>,
}

pub async fn lobby(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    request: Request<Body>,
) -> Response {
    render(state, LOBBY.to_owned(), query, request).await
}

pub async fn room(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(query): Query<PageQuery>,
    request: Request<Body>,
) -> Response {
    render(state, room, query, request).await
}

/// `GET /r?room=NAME`: the "Open a room" form without JavaScript, sent on to `/r/NAME`.
#[derive(Debug, serde::Deserialize)]
pub struct OpenRoom {
    room: Option<String>,
}

pub async fn open_room(Query(OpenRoom { room }): Query<OpenRoom>, headers: HeaderMap) -> Response {
    let name = room.unwrap_or_default().trim().to_lowercase();
    if check_room_name(&name).is_err() || is_dm_room(&name) {
        let catalogue = request_locale(&headers).catalogue();
        let said = (catalogue.problem)(&Problem::BadRoomName(name));
        return (StatusCode::BAD_REQUEST, format!("{said}\n")).into_response();
    }
    Redirect::to(&format!("/r/{name}")).into_response()
}

async fn render(
    state: AppState,
    room: String,
    query: PageQuery,
    request: Request<Body>,
) -> Response {
    // An empty value is the form's when the page shows no message yet: the latest page.
    let before = query.before.as_deref().filter(|text| !text.is_empty());
    let Ok(before) = before.map(str::parse::<u64>).transpose() else {
        return (
            StatusCode::BAD_REQUEST,
            "before must be a whole number: the seq of the oldest message shown\n",
        )
            .into_response();
    };
    let loaded = match state.auth.identify(request.headers()).await {
        Ok(identity) => room_snapshot(&state, identity, &room, before).await,
        Err(err) => Err(Refusal::internal(err)),
    };
    let status = loaded.as_ref().err().map(|refusal| refusal.status);
    let locale = request_locale(request.headers());
    let catalogue = locale.catalogue();
    let loaded = LoadedRoom(loaded.map_err(|refusal| (catalogue.problem)(&refusal.problem)));
    let options = state.leptos_options.clone();
    let page = leptos_axum::render_app_async_with_context(
        move || {
            security_headers::provide_request_nonce();
            provide_context(state.clone());
            provide_context(loaded.clone());
            provide_context(locale);
        },
        move || shell(options.clone()),
    );
    let mut response = page(request).await;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}
