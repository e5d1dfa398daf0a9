//! Server functions: called directly during server rendering, over HTTP from the browser.

use crate::protocol::{HistoryPage, User};
use leptos::prelude::*;

/// The page of history just before seq `before`.
#[server(endpoint = "load_older")]
pub async fn load_older(room: String, before: Option<u64>) -> Result<HistoryPage, ServerFnError> {
    let (state, viewer) = server_side::state_and_viewer().await?;
    server_side::authorize_read(&state, &room, viewer.as_ref()).await?;
    Ok(server_side::history(&state, &room, before).await?)
}

/// Posts a message from the composer's plain form, for a page without JavaScript: stored like
/// any message (once per `client_id`, so a form sent twice is stored once), then the browser
/// is sent back to the room, where it shows. A page with JavaScript sends through its socket
/// instead, from the same form.
#[server(endpoint = "post_message")]
pub async fn post_message(
    room: String,
    text: String,
    client_id: String,
) -> Result<(), ServerFnError> {
    server_side::post_message(room, text, client_id).await
}

/// Remembers the display name of a guest. Works as a plain form post without JavaScript.
#[server(endpoint = "choose_name")]
pub async fn choose_name(name: String) -> Result<User, ServerFnError> {
    let (state, existing) = server_side::state_and_viewer().await?;
    let (identity, cookie) = state
        .auth
        .choose_guest_name(&name, existing.as_ref(), server_side::client_key(&state))
        .await
        .map_err(|err| server_side::auth_refusal(&err))?;
    if let Some(cookie) = cookie {
        server_side::set_cookie(&cookie)?;
    }
    Ok(identity.user)
}

/// Creates an account and logs in to it.
#[server(endpoint = "register")]
pub async fn register(name: String, password: String) -> Result<User, ServerFnError> {
    let (state, _) = server_side::state_and_viewer().await?;
    let from = server_side::client_key(&state);
    server_side::signed_in(state.auth.register(&name, &password, from).await)
}

#[server(endpoint = "login")]
pub async fn login(name: String, password: String) -> Result<User, ServerFnError> {
    let (state, _) = server_side::state_and_viewer().await?;
    let from = server_side::client_key(&state);
    server_side::signed_in(state.auth.login(&name, &password, from).await)
}

/// Ends the session and closes every socket of the person (all their tabs).
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    server_side::logout().await
}

#[cfg(feature = "ssr")]
pub(crate) mod server_side {
    use std::net::IpAddr;

    use axum::extract::ConnectInfo;
    use axum::http::header::{ACCEPT, RETRY_AFTER, SET_COOKIE};
    use axum::http::{HeaderValue, StatusCode};
    use leptos::prelude::*;

    use crate::i18n::{Locale, Problem};
    use crate::protocol::{HistoryPage, RoomSnapshot};
    use crate::server::auth::{AuthError, Identity};
    use crate::server::http::client_address::{client_address, quota_key};
    use crate::server::hub::mailbox::Stop;
    use crate::server::rooms::access::{self, ReadDenied};
    use crate::server::rooms::snapshot;
    use crate::server::transport::listener::AcceptedSocket;
    use crate::server::AppState;

    /// The server's state and the requesting person's identity, from Leptos context.
    pub async fn state_and_viewer() -> Result<(AppState, Option<Identity>), ServerFnError> {
        let state = expect_context::<AppState>();
        let identity = match use_context::<axum::http::request::Parts>() {
            Some(parts) => state
                .auth
                .identify(&parts.headers)
                .await
                .map_err(ServerFnError::new)?,
            None => None,
        };
        Ok((state, identity))
    }

    /// The requesting client's address as per-address limits count it (an IPv6 address by
    /// its /64): the connection's peer, or behind a trusted proxy the address it forwards.
    /// `None` outside a request served by [`crate::server::serve`].
    pub fn client_key(state: &AppState) -> Option<IpAddr> {
        let parts = use_context::<axum::http::request::Parts>()?;
        let ConnectInfo(socket) = parts.extensions.get::<ConnectInfo<AcceptedSocket>>()?;
        let client = client_address(
            socket.peer().ip(),
            &parts.headers,
            &state.config.trusted_proxies,
        );
        Some(quota_key(client))
    }

    /// A request refused for coming too often: `Retry-After` says when to come back, and a
    /// script's request (fetch) gets 429. A plain form post keeps its redirect back to the
    /// page, which shows the reason: a 429 in its place would leave the browser on a bare
    /// error.
    fn too_fast(seconds: u64) {
        let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        response.insert_header(RETRY_AFTER, HeaderValue::from(seconds));
        let plain_form = use_context::<axum::http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if !plain_form {
            response.set_status(StatusCode::TOO_MANY_REQUESTS);
        }
    }

    /// The language of the request a server function answers (English outside a request).
    pub fn request_locale() -> Locale {
        use_context::<axum::http::request::Parts>()
            .map(|parts| crate::server::http::language::request_locale(&parts.headers))
            .unwrap_or_default()
    }

    /// `problem`, said in the request's language, as a server function's error.
    pub fn say(problem: &Problem) -> ServerFnError {
        ServerFnError::new((request_locale().catalogue().problem)(problem))
    }

    /// A refused name, login or registration, in the request's language; the server's own
    /// failures keep their words (and go to the log).
    pub fn auth_refusal(err: &AuthError) -> ServerFnError {
        if let AuthError::TooFast { seconds, .. } = err {
            too_fast(*seconds);
        }
        match err.problem() {
            Some(problem) => say(&problem),
            None => {
                tracing::error!(%err, "an identity request failed");
                ServerFnError::new(err.to_string())
            }
        }
    }

    /// The answer to a log in or registration: the person, with their session cookie set.
    pub fn signed_in(
        outcome: Result<(Identity, String), crate::server::auth::AuthError>,
    ) -> Result<crate::protocol::User, ServerFnError> {
        let (identity, cookie) = outcome.map_err(|err| auth_refusal(&err))?;
        set_cookie(&cookie)?;
        Ok(identity.user)
    }

    pub fn set_cookie(cookie: &str) -> Result<(), ServerFnError> {
        let response = expect_context::<leptos_axum::ResponseOptions>();
        response.append_header(SET_COOKIE, HeaderValue::from_str(cookie)?);
        Ok(())
    }

    /// Why a room is not shown to someone, with the HTTP status that says so.
    #[derive(Debug)]
    pub struct Refusal {
        pub status: StatusCode,
        pub problem: Problem,
    }

    impl Refusal {
        /// The store failed: the person did nothing wrong; the details go to the log.
        pub fn internal(err: impl std::fmt::Display) -> Self {
            tracing::error!(%err, "reading a room failed");
            Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                problem: Problem::RoomUnreadable,
            }
        }
    }

    /// A server function's error, with the refusal's status on its response.
    impl From<Refusal> for ServerFnError {
        fn from(refusal: Refusal) -> Self {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(refusal.status);
            }
            say(&refusal.problem)
        }
    }

    /// A refused read, with the status that says why.
    impl From<ReadDenied> for Refusal {
        fn from(denied: ReadDenied) -> Self {
            match denied {
                ReadDenied::Store(err) => Refusal::internal(err),
                denied => Refusal {
                    status: denied.status(),
                    problem: denied.problem(),
                },
            }
        }
    }

    /// The one read check ([`crate::server::rooms::access`]), answered with its status.
    pub async fn authorize_read(
        state: &AppState,
        room: &str,
        viewer: Option<&Identity>,
    ) -> Result<(), Refusal> {
        Ok(access::authorize_read(&state.auth, &state.directory, room, viewer).await?)
    }

    /// Everything the room page shows ([`snapshot::room_snapshot`]), or why not.
    pub async fn room_snapshot(
        state: &AppState,
        identity: Option<Identity>,
        room: &str,
        before: Option<u64>,
    ) -> Result<RoomSnapshot, Refusal> {
        Ok(snapshot::room_snapshot(state, identity, room, before).await?)
    }

    /// [`super::post_message`]: the same checks a socket's `send` passes (a named person, a
    /// room they may write in, text and client_id as the protocol allows), then the
    /// committer; answered once the message is stored.
    pub async fn post_message(
        room: String,
        text: String,
        client_id: String,
    ) -> Result<(), ServerFnError> {
        use crate::protocol::{check_client_id, check_room_name, check_text, RoomKind};
        use crate::server::rooms::directory::Denied;
        use crate::server::store::NewMessage;

        // Plain errors, not [`Refusal`]s: a refusal's status would replace the redirect that
        // takes a browser without JavaScript back to the room with the reason.
        let (state, identity) = state_and_viewer().await?;
        let Some(identity) = identity else {
            return Err(say(&Problem::PickNameFirst));
        };
        check_room_name(&room)
            .and_then(|()| check_text(&text))
            .and_then(|()| check_client_id(&client_id))
            .map_err(|code| say(&Problem::Refused(code)))?;
        let unavailable = |err: &dyn std::fmt::Display| {
            tracing::error!(%err, "a form post failed");
            say(&Problem::NotStored)
        };
        let authorized = state
            .directory
            .authorize(&room, &identity.user.id, &identity.user.id)
            .await;
        match authorized {
            Ok(RoomKind::Public) => state
                .directory
                .add_to_list(&room, &identity.user)
                .await
                .map_err(|err| unavailable(&err))?,
            Ok(_) => {}
            Err(Denied::Store(err)) => return Err(unavailable(&err)),
            Err(Denied::Private(room)) => return Err(say(&Problem::RoomIsPrivate(room))),
            Err(Denied::TooManyNewRooms { seconds }) => {
                return Err(say(&Problem::TooFast {
                    what: crate::i18n::Burst::NewRooms,
                    seconds,
                }))
            }
        }
        let message = NewMessage::new(room, Some(client_id), identity.user, text);
        match state.committer.submit(message).await.outcome().await {
            Ok(_) => Ok(()),
            Err(err) => Err(unavailable(&err)),
        }
    }

    pub async fn logout() -> Result<(), ServerFnError> {
        let (state, identity) = state_and_viewer().await?;
        let Some(identity) = identity else {
            return Ok(());
        };
        set_cookie(&state.auth.clear_cookie())?;
        state
            .auth
            .logout(&identity)
            .await
            .map_err(ServerFnError::new)?;
        let closed = state.broker.stop_person(&identity.user.id, Stop::LoggedOut);
        tracing::info!(user = %identity.user.id, closed, "logged out");
        Ok(())
    }

    /// A room's latest page (or the one before `before`); an unused room is empty.
    pub async fn history(
        state: &AppState,
        room: &str,
        before: Option<u64>,
    ) -> Result<HistoryPage, Refusal> {
        snapshot::history_page(state, room, before)
            .await
            .map_err(Refusal::internal)
    }
}
