//! The room pages, `/` (the lobby) and `/r/{room}`: what the page shows is loaded first, then
//! rendered with nothing left to wait for (see `LoadedRoom` for why).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Request;
use axum::response::Response;
use leptos::prelude::provide_context;

use crate::app::api::server_side::{room_snapshot, Refusal};
use crate::app::room_page::LoadedRoom;
use crate::app::shell;
use crate::protocol::LOBBY;
use crate::server::state::AppState;

pub async fn lobby(State(state): State<AppState>, request: Request<Body>) -> Response {
    render(state, LOBBY.to_owned(), request).await
}

pub async fn room(
    State(state): State<AppState>,
    Path(room): Path<String>,
    request: Request<Body>,
) -> Response {
    render(state, room, request).await
}

async fn render(state: AppState, room: String, request: Request<Body>) -> Response {
    let loaded = match state.auth.identify(request.headers()).await {
        Ok(identity) => room_snapshot(&state, identity, &room).await,
        Err(err) => Err(Refusal::internal(err)),
    };
    let status = loaded.as_ref().err().map(|refusal| refusal.status);
    let loaded = LoadedRoom(loaded.map_err(|refusal| refusal.message));
    let options = state.leptos_options.clone();
    let page = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(state.clone());
            provide_context(loaded.clone());
        },
        move || shell(options.clone()),
    );
    let mut response = page(request).await;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}
