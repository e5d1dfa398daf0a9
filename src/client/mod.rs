//! Browser-only code (feature `hydrate`). [`frames`] touches no browser API, so it is also
//! built for native tests.

#[cfg(feature = "hydrate")]
pub mod connection;
pub mod frames;
#[cfg(feature = "hydrate")]
mod link;
#[cfg(feature = "hydrate")]
mod local_time;
#[cfg(feature = "hydrate")]
pub mod outbox;

#[cfg(feature = "hydrate")]
use crate::app::chat::Chat;
#[cfg(feature = "hydrate")]
use crate::app::connection::ChatConnection;
#[cfg(feature = "hydrate")]
use crate::i18n::Locale;

/// The page's connection in the browser: the state machine of [`connection`] and the outbox.
#[cfg(feature = "hydrate")]
pub struct BrowserConnection;

#[cfg(feature = "hydrate")]
impl ChatConnection for BrowserConnection {
    fn connect(&self, chat: Chat) {
        connection::connect(chat);
    }

    fn disconnect(&self, chat: Chat) {
        connection::disconnect(chat);
    }

    fn send(&self, chat: Chat, text: &str) {
        connection::send(chat, text);
    }

    fn typing(&self, chat: Chat) {
        connection::typing(chat);
    }

    fn open_dm(&self, chat: Chat, user_id: String) {
        connection::open_dm(chat, user_id);
    }

    fn leave(&self, chat: Chat) {
        connection::leave(chat);
    }

    fn restore_outbox(&self, chat: Chat) {
        connection::restore_outbox(chat);
    }

    fn persist_outbox(&self, chat: Chat) {
        connection::persist_outbox(chat);
    }

    fn local_time(&self, unix_ms: i64, locale: Locale) -> String {
        local_time::local_time(unix_ms, locale)
    }
}
