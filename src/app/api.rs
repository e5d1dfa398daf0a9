//! Server functions: called directly during server rendering, over HTTP from the browser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::{HistoryPage, User};

/// Messages on the first page the room renders, and per "Load older".
pub const PAGE_SIZE: u32 = 50;

/// What the room page needs to render before any socket is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// The person viewing, if they have picked a name.
    pub me: Option<User>,
    /// The latest page of history. The page joins the socket from its last seq, so nothing
    /// sent between rendering and connecting is missed.
    pub history: HistoryPage,
}

#[server(endpoint = "load_room")]
pub async fn load_room(room: String) -> Result<RoomSnapshot, ServerFnError> {
    let (state, me) = server_side::state_and_user();
    let history = server_side::history(&state, &room, None).await?;
    Ok(RoomSnapshot { me, history })
}

/// The page of history just before seq `before`.
#[server(endpoint = "load_older")]
pub async fn load_older(room: String, before: Option<u64>) -> Result<HistoryPage, ServerFnError> {
    let (state, _) = server_side::state_and_user();
    server_side::history(&state, &room, before).await
}

/// Remembers the display name in cookies. Works as a plain form post without JavaScript.
#[server(endpoint = "choose_name")]
pub async fn choose_name(name: String) -> Result<User, ServerFnError> {
    use crate::server::identity;
    use axum::http::{header::SET_COOKIE, HeaderValue};
    let (_, existing) = server_side::state_and_user();
    let user = identity::named(&name, existing.as_ref()).ok_or_else(|| {
        ServerFnError::new(format!(
            "A display name has 1 to {} characters and no control characters.",
            crate::protocol::MAX_NAME_CHARS
        ))
    })?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    for cookie in identity::set_cookie_headers(&user) {
        response.append_header(SET_COOKIE, HeaderValue::from_str(&cookie)?);
    }
    Ok(user)
}

#[cfg(feature = "ssr")]
mod server_side {
    use leptos::prelude::*;

    use crate::protocol::{HistoryPage, User};
    use crate::server::{history_api, identity, AppState};

    /// The server's state and the requesting user, from Leptos context.
    pub fn state_and_user() -> (AppState, Option<User>) {
        let state = expect_context::<AppState>();
        let user = use_context::<axum::http::request::Parts>()
            .and_then(|parts| identity::from_headers(&parts.headers));
        (state, user)
    }

    pub async fn history(
        state: &AppState,
        room: &str,
        before: Option<u64>,
    ) -> Result<HistoryPage, ServerFnError> {
        if !state.hub.has_room(room) {
            return Err(ServerFnError::new(format!("room {room:?} does not exist")));
        }
        history_api::page(state.store.as_ref(), room, before, super::PAGE_SIZE)
            .await
            .map_err(ServerFnError::new)
    }
}
