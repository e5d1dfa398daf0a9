//! What the page asks of its connection, as a trait the page owns.
//!
//! The page's state ([`Chat`]) and its components never name the browser's socket code: they
//! ask through [`ChatConnection`], which `src/client/` implements and `hydrate()` (src/lib.rs)
//! installs before the page hydrates. Data then flows one way: the client reads the socket
//! and writes `Chat`'s signals; the page only reads them and asks. During server rendering
//! nothing is installed, and asking does nothing.

use std::cell::OnceCell;

use leptos::prelude::{Get, Set};

use crate::app::chat::Chat;
use crate::i18n::Locale;

/// The browser's connection, as the page sees it.
pub trait ChatConnection {
    /// Opens the socket (if not open) and keeps it open.
    fn connect(&self, chat: Chat);
    /// Closes the socket and keeps it closed.
    fn disconnect(&self, chat: Chat);
    /// Queues `text` in the outbox for the current room and sends it when the socket is open.
    fn send(&self, chat: Chat, text: &str);
    /// The person is typing in the current room.
    fn typing(&self, chat: Chat);
    /// Opens the DM with `user_id`, then goes there.
    fn open_dm(&self, chat: Chat, user_id: String);
    /// Leaves the current room, then goes to the lobby.
    fn leave(&self, chat: Chat);
    /// Puts back what the outbox held when the page was last open.
    fn restore_outbox(&self, chat: Chat);
    /// Keeps the outbox in browser storage.
    fn persist_outbox(&self, chat: Chat);
    /// A message's time as the reader reads times: their zone, their locale's way of writing
    /// it (`2:05 PM`, `14:05`), with the date when it is not today.
    fn local_time(&self, unix_ms: i64, locale: Locale) -> String;
}

thread_local! {
    /// The one connection of this page; the browser runs the page on one thread.
    static INSTALLED: OnceCell<Box<dyn ChatConnection>> = const { OnceCell::new() };
}

/// Makes `connection` the page's connection; the first one installed stays.
pub fn install(connection: Box<dyn ChatConnection>) {
    INSTALLED.with(|installed| {
        let _ = installed.set(connection);
    });
}

/// Runs `ask` with the page's connection, if one is installed (in the browser).
pub fn ask(ask: impl FnOnce(&dyn ChatConnection)) {
    INSTALLED.with(|installed| {
        if let Some(connection) = installed.get() {
            ask(connection.as_ref());
        }
    });
}

/// What the page asks, on its state: the connection does it.
impl Chat {
    /// Opens the socket (if not open) and keeps it open.
    pub fn connect(&self) {
        self.wants_connection.set(true);
        ask(|connection| connection.connect(*self));
    }

    /// Closes the socket and stays disconnected until [`Chat::connect`].
    pub fn disconnect(&self) {
        self.wants_connection.set(false);
        ask(|connection| connection.disconnect(*self));
    }

    /// Reconnects so that the server sees a newly chosen identity.
    pub fn reconnect(&self) {
        if cfg!(feature = "hydrate") {
            ask(|connection| connection.disconnect(*self));
            self.connect();
        }
    }

    /// Queues `text` in the outbox (shown as pending at once) and sends it now if the socket
    /// is open, else after the next reconnect. Returns false, saying why in `notice`, only for
    /// text the server would refuse, so the composer keeps it.
    pub fn send(&self, text: &str) -> bool {
        if let Err(code) = crate::protocol::check_text(text) {
            self.notice.set(Some((self.t().not_sent)(code)));
            return false;
        }
        ask(|connection| connection.send(*self, text));
        cfg!(feature = "hydrate")
    }

    /// The person is typing here (sent at most every few seconds).
    pub fn typing(&self) {
        ask(|connection| connection.typing(*self));
    }

    /// Opens the direct-message room with `user_id`, then goes there.
    pub fn open_dm(&self, user_id: String) {
        ask(|connection| connection.open_dm(*self, user_id));
    }

    /// Leaves this room (off the room list too), then goes to the lobby.
    pub fn leave(&self) {
        ask(|connection| connection.leave(*self));
    }

    /// `unix_ms` as the page shows it: in UTC while rendering on the server and hydrating,
    /// then as the reader reads times (tracked: it changes once the page is live).
    pub fn show_time(&self, unix_ms: i64) -> String {
        let mut shown = None;
        if self.local_times.get() {
            ask(|connection| shown = Some(connection.local_time(unix_ms, self.locale)));
        }
        shown.unwrap_or_else(|| (self.t().utc_time)(&crate::app::message_list::utc_clock(unix_ms)))
    }

    /// Tries to connect now, skipping the wait of a scheduled reconnect.
    pub fn retry_now(&self) {
        self.connect();
    }
}
