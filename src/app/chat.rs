//! The page's view of one chat room: reactive signals the components read, fed by the socket.
//!
//! Components only read these signals and call [`Chat::send`], [`Chat::connect`] and
//! [`Chat::disconnect`]; the browser-only socket code (`crate::client`) writes them.

use leptos::prelude::*;

use crate::protocol::{ChatMessage, User};

/// WebSocket readyState values, as the browser reports them.
pub mod ready_state {
    pub const CONNECTING: u16 = 0;
    pub const OPEN: u16 = 1;
    pub const CLOSING: u16 = 2;
    pub const CLOSED: u16 = 3;
}

#[derive(Clone, Copy)]
pub struct Chat {
    pub room: StoredValue<String>,
    /// The socket's readyState (0–3). Starts at CONNECTING: the page connects as soon as it
    /// hydrates, and the server render must match the first client render.
    pub ready_state: RwSignal<u16>,
    /// False once the person pressed "Disconnect": no automatic reconnect then.
    pub wants_connection: RwSignal<bool>,
    /// Messages in the order the server sent them, without duplicates.
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// Who this page is: the name picked (from the cookie), else the guest the server assigned.
    pub me: RwSignal<Option<User>>,
    /// True once the person has picked a name; the composer is shown only then.
    pub named: RwSignal<bool>,
    /// The last error the server reported for a frame of ours, shown near the composer.
    pub notice: RwSignal<Option<String>>,
    /// The browser's UTC offset in minutes, once known; until then times are shown in UTC
    /// (the server render cannot know the reader's time zone).
    pub utc_offset_minutes: RwSignal<Option<i32>>,
}

impl Chat {
    pub fn new(room: String, me: Option<User>, messages: Vec<ChatMessage>) -> Self {
        Chat {
            room: StoredValue::new(room),
            ready_state: RwSignal::new(ready_state::CONNECTING),
            wants_connection: RwSignal::new(true),
            messages: RwSignal::new(messages),
            named: RwSignal::new(me.is_some()),
            me: RwSignal::new(me),
            notice: RwSignal::new(None),
            utc_offset_minutes: RwSignal::new(None),
        }
    }

    /// Adds a message unless it is already shown (the same id can arrive twice: once in the
    /// server-rendered page and once live).
    pub fn receive(&self, message: ChatMessage) {
        self.messages.update(|messages| {
            if !messages.iter().rev().any(|m| m.id == message.id) {
                messages.push(message);
            }
        });
    }

    pub fn is_mine(&self, message: &ChatMessage) -> bool {
        self.me
            .with(|me| me.as_ref().is_some_and(|me| me.id == message.user.id))
    }

    /// Opens the socket (if not open) and keeps it open.
    pub fn connect(&self) {
        self.wants_connection.set(true);
        #[cfg(feature = "hydrate")]
        crate::client::socket::connect(*self);
    }

    /// Closes the socket and stays disconnected until [`Chat::connect`].
    pub fn disconnect(&self) {
        self.wants_connection.set(false);
        #[cfg(feature = "hydrate")]
        crate::client::socket::disconnect(*self);
    }

    /// Reconnects so that the server sees a newly chosen identity.
    pub fn reconnect(&self) {
        #[cfg(feature = "hydrate")]
        {
            crate::client::socket::disconnect(*self);
            self.connect();
        }
    }

    /// Sends `text`. Returns false (and says why in `notice`) if it could not be sent, so the
    /// composer keeps the text.
    pub fn send(&self, text: &str) -> bool {
        if let Err(code) = crate::protocol::check_text(text) {
            self.notice.set(Some(format!("Not sent: {code:?}")));
            return false;
        }
        #[cfg(feature = "hydrate")]
        {
            crate::client::socket::send(*self, text)
        }
        #[cfg(not(feature = "hydrate"))]
        {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::LOBBY;

    fn message(id: &str, user: &str) -> ChatMessage {
        ChatMessage {
            room: LOBBY.into(),
            id: id.into(),
            client_id: format!("c{id}"),
            user: User {
                id: user.into(),
                name: user.into(),
            },
            text: "t".into(),
            ts: 0,
        }
    }

    #[test]
    fn a_message_seen_twice_is_shown_once() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(LOBBY.into(), None, vec![message("1", "a")]);
            chat.receive(message("1", "a"));
            chat.receive(message("2", "a"));
            chat.receive(message("2", "a"));
            let ids: Vec<String> = chat
                .messages
                .get_untracked()
                .into_iter()
                .map(|m| m.id)
                .collect();
            assert_eq!(ids, ["1", "2"]);
        });
    }

    #[test]
    fn own_messages_are_recognized_by_user_id() {
        let owner = Owner::new();
        owner.with(|| {
            let me = User {
                id: "me".into(),
                name: "Same Name".into(),
            };
            let chat = Chat::new(LOBBY.into(), Some(me), vec![]);
            assert!(chat.is_mine(&message("1", "me")));
            assert!(!chat.is_mine(&message("2", "someone")));
        });
    }
}
