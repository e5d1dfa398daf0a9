//! The strings of one language: every word the page shows, by what it is for.

use crate::protocol::ErrorCode;

use super::Problem;

/// One language's words. Plain strings where nothing varies; functions where a count, a name
/// or a reason goes in, so each language orders and inflects them its own way.
pub struct Catalogue {
    // The document and the router.
    pub noscript_hint: &'static str,
    pub page_not_found: &'static str,
    /// "Huddle", or "(@2) Huddle" with unread mentions elsewhere.
    pub tab_title: fn(u64) -> String,
    /// The room page failed to load, and why.
    pub room_not_loaded: fn(&str) -> String,
    pub page_without_room: &'static str,
    pub language: &'static str,

    // The room.
    /// A DM whose other person is unknown.
    pub direct_message: &'static str,
    pub leave_room: &'static str,
    pub log_in_to_chat: &'static str,
    pub messages: &'static str,
    pub load_older: &'static str,
    pub could_not_load_older: fn(&str) -> String,
    /// After one's own name on one's own messages.
    pub you: &'static str,
    pub stored_by_the_server: &'static str,
    pub sent: &'static str,
    pub sending: &'static str,
    /// Before the reader's time zone is known: "14:05 UTC".
    pub utc_time: fn(&str) -> String,

    // The composer.
    pub message: &'static str,
    pub write_a_message: &'static str,
    pub send: &'static str,
    /// Text the page did not send, because the server would refuse it.
    pub not_sent: fn(ErrorCode) -> String,

    // The connection.
    pub connecting: &'static str,
    pub connected: &'static str,
    pub disconnecting: &'static str,
    pub disconnected: &'static str,
    pub reconnecting: &'static str,
    pub reconnecting_in: fn(u32) -> String,
    pub waiting_to_send: fn(usize) -> String,
    pub bytes_buffered: fn(u32) -> String,
    pub round_trip_time: &'static str,
    pub retry_now: &'static str,
    pub connect: &'static str,
    pub disconnect: &'static str,
    pub not_connected: &'static str,
    pub could_not_reload_history: fn(&str) -> String,
    /// The server closed for good: its code and reason.
    pub server_closed: fn(u16, &str) -> String,
    /// An error frame from the server: its code and its (English) message.
    pub error_frame: fn(ErrorCode, &str) -> String,

    // Who one is.
    pub account: &'static str,
    pub signed_in_as: fn(&str) -> String,
    pub guest: fn(&str) -> String,
    pub not_signed_in: &'static str,
    pub log_out: &'static str,
    pub log_in_or_register: &'static str,
    pub log_in: &'static str,
    pub register: &'static str,
    pub login_name: &'static str,
    pub login_password: &'static str,
    pub register_name: &'static str,
    pub register_password: &'static str,
    pub pick_a_name: &'static str,
    pub display_name: &'static str,
    pub join_chat: &'static str,

    // Beside the conversation.
    pub notices: &'static str,
    pub dismiss_notice: &'static str,
    pub online: &'static str,
    /// The DM button's label, for one person.
    pub message_person: fn(&str) -> String,
    pub message_button: &'static str,
    pub rooms: &'static str,
    pub room_name_rule: &'static str,
    pub open_a_room: &'static str,
    pub room_name: &'static str,
    pub open: &'static str,
    pub unread: fn(u64) -> String,
    pub mentions_of_you: fn(u64) -> String,
    /// Who is typing, by name (one or more).
    pub typing: fn(&[&str]) -> String,
    pub joined: fn(&str) -> String,
    pub left: fn(&str) -> String,

    /// What went wrong on the server, in words.
    pub problem: fn(&Problem) -> String,
}
