//! English.

use crate::protocol::{
    ErrorCode, MAX_CLIENT_ID_LEN, MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_ROOM_NAME_LEN,
    MAX_TEXT_CHARS, MIN_PASSWORD_CHARS,
};

use super::{Burst, Catalogue, Problem};

pub static EN: Catalogue = Catalogue {
    noscript_hint: "Live updates need JavaScript; this page shows the recent messages.",
    page_not_found: "Page not found.",
    tab_title: |mentions| match mentions {
        0 => "Huddle".to_owned(),
        n => format!("(@{n}) Huddle"),
    },
    room_not_loaded: |why| format!("The room could not be loaded: {why}"),
    page_without_room: "the page came without its room; reload it",
    language: "Language",

    direct_message: "direct message",
    leave_room: "Leave room",
    log_in_to_chat: "Log in to chat.",
    messages: "Messages",
    load_older: "Load older messages",
    could_not_load_older: |err| format!("Could not load older messages: {err}"),
    you: " (you)",
    stored_by_the_server: "stored by the server",
    sent: "✓ sent",
    sending: "sending…",
    utc_time: |clock| format!("{clock} UTC"),

    message: "Message",
    write_a_message: "Write a message",
    send: "Send",
    not_sent: |code| format!("Not sent: {code:?}"),

    connecting: "Connecting…",
    connected: "Connected",
    disconnecting: "Disconnecting…",
    disconnected: "Disconnected",
    reconnecting: "Disconnected — reconnecting…",
    reconnecting_in: |secs| format!("Disconnected — reconnecting in {secs} s"),
    waiting_to_send: |n| match n {
        1 => "1 message waiting to send".to_owned(),
        n => format!("{n} messages waiting to send"),
    },
    bytes_buffered: |bytes| format!("{bytes} bytes buffered"),
    round_trip_time: "round-trip time",
    retry_now: "Retry now",
    connect: "Connect",
    disconnect: "Disconnect",
    not_connected: "Not connected: try again once the connection is back.",
    could_not_reload_history: |err| format!("Could not reload the history: {err}"),
    server_closed: |code, reason| match reason {
        "" => format!("The server closed the connection ({code}); press Connect to try again."),
        reason => format!(
            "The server closed the connection ({code}: {reason}); press Connect to try again."
        ),
    },
    // The server's own words are English already, with the details (a room, a wait).
    error_frame: |_, message| message.to_owned(),

    account: "Account",
    signed_in_as: |name| format!("Signed in as {name}"),
    guest: |name| format!("{name} (guest)"),
    not_signed_in: "Not signed in",
    log_out: "Log out",
    log_in_or_register: "Log in or register",
    log_in: "Log in",
    register: "Register",
    login_name: "Login name",
    login_password: "Login password",
    register_name: "Register name",
    register_password: "Register password",
    pick_a_name: "Pick a display name to chat: ",
    display_name: "Display name",
    join_chat: "Join chat",

    notices: "Notices",
    dismiss_notice: "Dismiss notice",
    online: "Online",
    message_person: |name| format!("Message {name}"),
    message_button: "Message",
    rooms: "Rooms",
    room_name_rule: "A room name is 1 to 64 of a-z, 0-9, - and _ (not starting with dm-).",
    open_a_room: "Open a room: ",
    room_name: "Room name",
    open: "Open",
    unread: |n| format!("{n} unread"),
    mentions_of_you: |n| match n {
        1 => "1 mention of you".to_owned(),
        n => format!("{n} mentions of you"),
    },
    typing: |names| match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        [one, two, ..] => format!("{one}, {two} and others are typing…"),
    },
    joined: |name| format!("{name} joined"),
    left: |name| format!("{name} left"),

    problem,
};

fn problem(problem: &Problem) -> String {
    match problem {
        Problem::InvalidName => {
            format!("a display name has 1 to {MAX_NAME_CHARS} characters and no control characters")
        }
        Problem::InvalidPassword => {
            format!("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
        }
        Problem::NameTaken(name) => format!("the name {name:?} is taken"),
        Problem::WrongCredentials => "wrong name or password".to_owned(),
        Problem::GuestsNotAllowed => "guests are not allowed on this server; log in".to_owned(),
        Problem::AccountsNotAllowed => "accounts are not enabled on this server".to_owned(),
        Problem::NameBelongsToAccount(name) => {
            format!("the name {name:?} belongs to an account; log in to use it")
        }
        Problem::TooManyLoginAttempts { minutes } => {
            format!("too many failed logins for this name; try again in {minutes} min")
        }
        Problem::TooFast { what, seconds } => {
            let what = match what {
                Burst::NewGuests => "too many new guests from your address",
                Burst::Registrations => "too many registrations from your address",
                Burst::Logins => "too many logins from your address",
                Burst::NewRooms => "too many new rooms",
            };
            format!("{what}; try again in {seconds} s")
        }
        Problem::PickNameFirst => "Pick a display name before you post.".to_owned(),
        Problem::NotStored => "The message was not stored (the server could not reach its \
                               database); post it again."
            .to_owned(),
        Problem::RoomUnreadable => "The server could not read this room; try again.".to_owned(),
        Problem::NotARoom(name) => format!("{name:?} is not a room name"),
        Problem::LogInToRead => "Log in to read this room.".to_owned(),
        Problem::PrivateRoom(name) => {
            format!("Room {name:?} is private: only its members can see it.")
        }
        Problem::RoomIsPrivate(name) => format!("room {name:?} is private"),
        Problem::BadRoomName(name) => format!(
            "A room name is 1 to {MAX_ROOM_NAME_LEN} of a-z, 0-9, - and _ (not starting with \
             dm-); {name:?} is not one. Go back and try another."
        ),
        Problem::Refused(code) => refusal(*code),
    }
}

/// What a refused frame's error says (the protocol's English, docs/protocol.md).
fn refusal(code: ErrorCode) -> String {
    match code {
        ErrorCode::EmptyText => "message text is empty".to_owned(),
        ErrorCode::TextTooLong => {
            format!("message text is longer than {MAX_TEXT_CHARS} characters")
        }
        ErrorCode::InvalidRoom => {
            format!("a room name is 1 to {MAX_ROOM_NAME_LEN} of a-z, 0-9, - and _")
        }
        ErrorCode::NulInText => {
            "message text holds U+0000 (NUL), which no message may hold".to_owned()
        }
        ErrorCode::InvalidClientId => {
            format!("client_id must be 1 to {MAX_CLIENT_ID_LEN} bytes, without U+0000 (NUL)")
        }
        ErrorCode::BinaryNotSupported => {
            "binary frames are not supported; send JSON text frames".to_owned()
        }
        ErrorCode::TooManyRooms => {
            "you are in as many rooms as one connection may be; leave one first".to_owned()
        }
        ErrorCode::ServerBusy => {
            "the server has as many rooms in use as it keeps; try again later".to_owned()
        }
        other => format!("{other:?}"),
    }
}
