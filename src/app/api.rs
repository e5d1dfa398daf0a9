//! Server functions: called directly during server rendering, over HTTP from the browser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::{ChatMessage, User};

/// What the room page needs to render before any socket is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    pub room: String,
    /// The person viewing, if they have picked a name.
    pub me: Option<User>,
    /// Recent messages, oldest first.
    pub messages: Vec<ChatMessage>,
}

#[server(endpoint = "load_room")]
pub async fn load_room(room: String) -> Result<RoomSnapshot, ServerFnError> {
    use crate::server::{hub::Hub, identity};
    let hub = expect_context::<std::sync::Arc<Hub>>();
    let me = use_context::<axum::http::request::Parts>()
        .and_then(|parts| identity::from_headers(&parts.headers));
    let messages = hub.recent(&room).map_err(ServerFnError::new)?;
    Ok(RoomSnapshot { room, me, messages })
}

/// Remembers the display name in cookies. Works as a plain form post without JavaScript.
#[server(endpoint = "choose_name")]
pub async fn choose_name(name: String) -> Result<User, ServerFnError> {
    use crate::server::identity;
    use axum::http::{header::SET_COOKIE, HeaderValue};
    let existing = use_context::<axum::http::request::Parts>()
        .and_then(|parts| identity::from_headers(&parts.headers));
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
