//! The one check of who may read a room, used by the pages, the server functions and the
//! history API alike; each answers a refusal in its own way (a page, a JSON error).

use axum::http::StatusCode;

use crate::i18n::Problem;
use crate::protocol::check_room_name;
use crate::server::auth::{Auth, Identity};
use crate::server::rooms::directory::Directory;
use crate::server::store::StoreError;

/// Why someone may not read a room.
#[derive(Debug, thiserror::Error)]
pub enum ReadDenied {
    #[error("{}", Problem::NotARoom(.0.clone()))]
    NotARoom(String),
    /// Nobody without a session reads anything where guests are not allowed.
    #[error("{}", Problem::LogInToRead)]
    LogInFirst,
    /// A DM, and the reader is not one of its two people.
    #[error("{}", Problem::PrivateRoom(.0.clone()))]
    Private(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReadDenied {
    /// The HTTP status that says why, to pages, server functions and the history API alike.
    pub fn status(&self) -> StatusCode {
        match self {
            ReadDenied::NotARoom(_) => StatusCode::NOT_FOUND,
            ReadDenied::LogInFirst => StatusCode::UNAUTHORIZED,
            ReadDenied::Private(_) => StatusCode::FORBIDDEN,
            ReadDenied::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the reader is told, in their language.
    pub fn problem(&self) -> Problem {
        match self {
            ReadDenied::NotARoom(room) => Problem::NotARoom(room.clone()),
            ReadDenied::LogInFirst => Problem::LogInToRead,
            ReadDenied::Private(room) => Problem::PrivateRoom(room.clone()),
            ReadDenied::Store(_) => Problem::RoomUnreadable,
        }
    }
}

/// Whether `viewer` (`None`: a visitor without a session) may read `room`.
pub async fn authorize_read(
    auth: &Auth,
    directory: &Directory,
    room: &str,
    viewer: Option<&Identity>,
) -> Result<(), ReadDenied> {
    if check_room_name(room).is_err() {
        return Err(ReadDenied::NotARoom(room.to_owned()));
    }
    if viewer.is_none() && !auth.allow_guests {
        return Err(ReadDenied::LogInFirst);
    }
    let reader = viewer.map(|v| v.user.id.as_str());
    if !directory.may_read(room, reader).await? {
        return Err(ReadDenied::Private(room.to_owned()));
    }
    Ok(())
}
