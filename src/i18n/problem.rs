//! What the server can tell a person went wrong, as a value each catalogue puts in words.
//!
//! The server's errors (an account, a room, a post) name a [`Problem`]; the server function or
//! page that answers says it in the request's language. English is also how the errors
//! display in logs and to API clients.

use crate::protocol::ErrorCode;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A display name that is empty, too long, or holds control characters.
    InvalidName,
    InvalidPassword,
    NameTaken(String),
    WrongCredentials,
    GuestsNotAllowed,
    AccountsNotAllowed,
    NameBelongsToAccount(String),
    TooManyLoginAttempts {
        minutes: u64,
    },
    /// Too many of one kind of request from one client address (or, for new rooms, one
    /// person) in a minute; `seconds` until more are taken.
    TooFast {
        what: Burst,
        seconds: u64,
    },
    /// A post without a session (a browser that has not picked a name).
    PickNameFirst,
    /// The store failed: nothing was stored; the details are in the log.
    NotStored,
    /// The store failed while reading a room.
    RoomUnreadable,
    NotARoom(String),
    LogInToRead,
    /// A DM of other people, seen from a page.
    PrivateRoom(String),
    /// A DM of other people, refused to a post or a frame.
    RoomIsPrivate(String),
    /// A room name that breaks the rule, from the "Open a room" form.
    BadRoomName(String),
    /// A frame or post the protocol's checks refused.
    Refused(ErrorCode),
}

/// What a client did too often (see [`Problem::TooFast`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Burst {
    NewGuests,
    Registrations,
    Logins,
    NewRooms,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(super::Locale::En.catalogue().problem)(self))
    }
}
