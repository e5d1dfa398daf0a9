//! Browser-only code (feature `hydrate`). [`frames`] touches no browser API, so it is also
//! built for native tests.

pub mod frames;
#[cfg(feature = "hydrate")]
pub mod outbox;
#[cfg(feature = "hydrate")]
pub mod socket;

#[cfg(feature = "hydrate")]
use crate::app::chat::Chat;
#[cfg(feature = "hydrate")]
use crate::app::connection::ChatConnection;

/// The page's connection in the browser: the WebSocket of [`socket`] and the outbox.
#[cfg(feature = "hydrate")]
pub struct BrowserConnection;

#[cfg(feature = "hydrate")]
impl ChatConnection for BrowserConnection {
    fn connect(&self, chat: Chat) {
        socket::connect(chat);
    }

    fn disconnect(&self, chat: Chat) {
        socket::disconnect(chat);
    }

    fn send(&self, chat: Chat, text: &str) {
        socket::send(chat, text);
    }

    fn typing(&self, chat: Chat) {
        socket::typing(chat);
    }

    fn open_dm(&self, chat: Chat, user_id: String) {
        socket::open_dm(chat, user_id);
    }

    fn leave(&self, chat: Chat) {
        socket::leave(chat);
    }

    fn restore_outbox(&self, chat: Chat) {
        socket::restore_outbox(chat);
    }

    fn persist_outbox(&self, chat: Chat) {
        socket::persist_outbox(chat);
    }

    fn utc_offset_minutes(&self) -> i32 {
        // getTimezoneOffset is west-positive.
        -(js_sys::Date::new_0().get_timezone_offset() as i32)
    }
}
