//! The page's view of one chat room: reactive signals the components read, fed by the socket.
//!
//! Components only read these signals and call [`Chat::send`], [`Chat::connect`] and
//! [`Chat::disconnect`]; the browser-only socket code (`crate::client`) writes them. What
//! the page asks of the connection is in [`crate::app::connection`].

use leptos::prelude::*;

use crate::i18n::{Catalogue, Locale};
use crate::protocol::{ChatMessage, HistoryPage, RoomEntry, User};

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
    /// Stored messages in seq order, without duplicates.
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// Whether the server has messages older than the first one shown.
    pub has_more: RwSignal<bool>,
    /// Messages this page sent that have not come back from the server yet, in send order.
    pub pending: RwSignal<Vec<PendingMessage>>,
    /// Who this page is: the name picked (from the cookie), else the guest the server assigned.
    pub me: RwSignal<Option<User>>,
    /// True once the person has picked a name; the composer is shown only then.
    pub named: RwSignal<bool>,
    /// The last error the server reported for a frame of ours, shown near the composer.
    pub notice: RwSignal<Option<String>>,
    /// Round-trip time of the last ping the page sent, in milliseconds.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// Whole seconds until the next reconnect attempt, while one is scheduled.
    pub retry_in_secs: RwSignal<Option<u32>>,
    /// Bytes the socket has accepted but not yet put on the network (WebSocket.bufferedAmount).
    pub buffered_bytes: RwSignal<u32>,
    /// The language the page speaks (the server chose it; hydration reads it back).
    pub locale: Locale,
    /// True once the page runs in the browser: times are then shown in the reader's zone and
    /// locale; until then in UTC (the server render cannot know the reader's time zone).
    pub local_times: RwSignal<bool>,
    /// The person's rooms, this one included, with unread counts. The page's one socket
    /// joins all of them, so counts move live.
    pub rooms: RwSignal<Vec<RoomEntry>>,
    /// Who is online in this room, each person once.
    pub online: RwSignal<Vec<User>>,
    /// Who is typing here, and until when (Date.now() ms) to show it.
    pub typing: RwSignal<Vec<(User, f64)>>,
    /// Notices pushed by backends, newest last, until dismissed or timed out.
    pub notices: RwSignal<Vec<Notice>>,
    /// The person asked for a DM with this user id: go there once it is opened.
    pub opening_dm: RwSignal<Option<String>>,
    /// The latest arrival or departure here ("Ada joined"), shown beside the conversation.
    pub presence_note: RwSignal<Option<String>>,
}

/// A notice a backend pushed, as shown on the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Unique on this page, to dismiss it.
    pub key: u64,
    pub text: String,
    pub from: String,
}

/// A message sent from this page, shown before the server has stored and returned it. The
/// unacknowledged ones are the outbox: kept in browser storage, sent again after a reconnect.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingMessage {
    pub client_id: String,
    pub text: String,
    /// The server acknowledged it (stored, committed): shown as sent.
    #[serde(default)]
    pub acked: bool,
}

impl Chat {
    pub fn new(me: Option<User>, history: HistoryPage) -> Self {
        Self::with_rooms(me, history, Vec::new())
    }

    pub fn with_rooms(me: Option<User>, history: HistoryPage, rooms: Vec<RoomEntry>) -> Self {
        Chat {
            room: StoredValue::new(history.room),
            ready_state: RwSignal::new(ready_state::CONNECTING),
            wants_connection: RwSignal::new(true),
            messages: RwSignal::new(history.messages),
            has_more: RwSignal::new(history.has_more),
            pending: RwSignal::new(Vec::new()),
            named: RwSignal::new(me.is_some()),
            me: RwSignal::new(me),
            notice: RwSignal::new(None),
            rtt_ms: RwSignal::new(None),
            retry_in_secs: RwSignal::new(None),
            buffered_bytes: RwSignal::new(0),
            locale: Locale::default(),
            local_times: RwSignal::new(false),
            rooms: RwSignal::new(rooms),
            online: RwSignal::new(Vec::new()),
            typing: RwSignal::new(Vec::new()),
            notices: RwSignal::new(Vec::new()),
            opening_dm: RwSignal::new(None),
            presence_note: RwSignal::new(None),
        }
    }

    /// The words of the page's language.
    pub fn t(&self) -> &'static Catalogue {
        self.locale.catalogue()
    }

    /// A message arrived in another of the person's rooms: one more unread there.
    pub fn count_unread(&self, room: &str, more: u64) {
        if more == 0 {
            return;
        }
        self.rooms.update(|rooms| {
            if let Some(entry) = rooms.iter_mut().find(|r| r.name == room) {
                entry.unread += more;
            }
        });
    }

    /// A message that mentions this person arrived in another of their rooms.
    pub fn count_mention(&self, room: &str) {
        self.rooms.update(|rooms| {
            if let Some(entry) = rooms.iter_mut().find(|r| r.name == room) {
                entry.mentions += 1;
            }
        });
    }

    /// Whether `text` mentions this person (`@name`); nobody is mentioned before they have a
    /// name. Untracked: for frames as they arrive.
    pub fn mentions_me_untracked(&self, text: &str) -> bool {
        self.me.with_untracked(|me| {
            me.as_ref()
                .is_some_and(|me| crate::protocol::mentions(text, &me.name))
        })
    }

    /// Unread mentions in the person's other rooms, for the page title. The title is rendered
    /// apart from the page (leptos_meta), and can be asked after a page load abandoned midway
    /// has disposed of the page's state: then there is nothing to show, not a panic.
    pub fn mentions_elsewhere(&self) -> u64 {
        let Some(here) = self.room.try_get_value() else {
            return 0;
        };
        self.rooms
            .try_with(|rooms| {
                rooms
                    .iter()
                    .filter(|entry| entry.name != here)
                    .map(|entry| entry.mentions)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Adds a room to the list (a DM just opened), unless it is there.
    pub fn add_room(&self, entry: RoomEntry) {
        let known = self
            .rooms
            .with_untracked(|rooms| rooms.iter().any(|r| r.name == entry.name));
        if !known {
            self.rooms.update(|rooms| rooms.push(entry));
        }
    }

    /// `user` came online (`true`) or went offline here.
    pub fn set_online(&self, user: User, online: bool) {
        let id = user.id.clone();
        let said = if online {
            self.t().joined
        } else {
            self.t().left
        };
        self.presence_note.set(Some(said(&user.name)));
        self.online.update(|people| {
            people.retain(|p| p.id != user.id);
            if online {
                people.push(user);
                people.sort_by_key(|p| p.name.to_lowercase());
            }
        });
        if !online {
            self.stop_typing(|p| p.id == id);
        }
    }

    /// `user` is typing: show it until `until` (Date.now() ms).
    pub fn show_typing(&self, user: User, until: f64) {
        self.typing.update(|typing| {
            typing.retain(|(p, _)| p.id != user.id);
            typing.push((user, until));
        });
    }

    /// Takes typists off the indicator: those whose time is up (`now`), or who sent.
    pub fn expire_typing(&self, now: f64) {
        let stale = self
            .typing
            .with_untracked(|typing| typing.iter().any(|(_, until)| *until <= now));
        if stale {
            self.typing
                .update(|typing| typing.retain(|(_, until)| *until > now));
        }
    }

    fn stop_typing(&self, who: impl Fn(&User) -> bool) {
        let present = self
            .typing
            .with_untracked(|typing| typing.iter().any(|(p, _)| who(p)));
        if present {
            self.typing.update(|typing| typing.retain(|(p, _)| !who(p)));
        }
    }

    /// Shows a pushed notice.
    pub fn add_notice(&self, text: String, from: String) {
        self.notices.update(|notices| {
            let key = notices.last().map_or(1, |n| n.key + 1);
            notices.push(Notice { key, text, from });
        });
    }

    pub fn dismiss_notice(&self, key: u64) {
        self.notices
            .update(|notices| notices.retain(|n| n.key != key));
    }

    /// Shows a stored message in its place by seq, unless it is already shown. A message of
    /// ours replaces its pending copy.
    pub fn receive(&self, message: ChatMessage) {
        // Whoever sent a message has stopped typing it.
        self.stop_typing(|p| p.id == message.user.id);
        // Signals are written only when something changes: every incoming message passes
        // here, and a write re-renders its list (and, for `pending`, rewrites the outbox).
        let was_pending = self
            .pending
            .with_untracked(|pending| pending.iter().any(|p| p.client_id == message.client_id));
        if was_pending {
            self.pending
                .update(|pending| pending.retain(|p| p.client_id != message.client_id));
        }
        // Live messages almost always go last; the search handles resumes and older pages.
        let place = self
            .messages
            .with_untracked(|messages| messages.binary_search_by_key(&message.seq, |m| m.seq));
        if let Err(at) = place {
            self.messages
                .update(|messages| messages.insert(at, message));
        }
    }

    /// The seq of the newest stored message shown: where a resume starts.
    pub fn last_seq(&self) -> u64 {
        self.messages
            .with_untracked(|m| m.last().map_or(0, |m| m.seq))
    }

    /// The seq of the oldest message shown: where "Load older" continues.
    pub fn first_seq(&self) -> Option<u64> {
        self.messages.with_untracked(|m| m.first().map(|m| m.seq))
    }

    /// Shows a message as pending the moment it is handed to the socket.
    pub fn add_pending(&self, client_id: String, text: String) {
        self.pending.update(|pending| {
            pending.push(PendingMessage {
                client_id,
                text,
                acked: false,
            })
        });
    }

    /// The server stored our message: mark it sent (its broadcast replaces it shortly). If
    /// it is shown already, the pending copy goes now: a retry of a message stored before a
    /// reload is acked, but not broadcast again, and the page's history already holds it.
    pub fn acknowledge(&self, client_id: &str) {
        if self.shows(client_id) {
            self.pending
                .update(|pending| pending.retain(|p| p.client_id != client_id));
            return;
        }
        self.pending.update(|pending| {
            if let Some(p) = pending.iter_mut().find(|p| p.client_id == client_id) {
                p.acked = true;
            }
        });
    }

    /// Puts back the pending messages an earlier page left in the outbox, except those its
    /// history already shows: a message stored just before a reload, whose copy had not
    /// arrived yet, would otherwise be shown twice.
    pub fn restore_pending(&self, saved: Vec<PendingMessage>) {
        if saved.is_empty() {
            return;
        }
        let unsent: Vec<PendingMessage> = saved
            .into_iter()
            .filter(|p| !self.shows(&p.client_id))
            .collect();
        // Set even when nothing is left, so the stored outbox loses the stale entries too.
        self.pending.set(unsent);
    }

    /// Whether a stored message with this client_id is shown.
    fn shows(&self, client_id: &str) -> bool {
        self.messages
            .with_untracked(|messages| messages.iter().any(|m| m.client_id == client_id))
    }

    /// Pending messages the server has not acknowledged, to send again after a reconnect.
    pub fn unacknowledged(&self) -> Vec<PendingMessage> {
        self.pending
            .with_untracked(|pending| pending.iter().filter(|p| !p.acked).cloned().collect())
    }

    /// Adds an older page in front of what is shown.
    pub fn prepend(&self, page: HistoryPage) {
        self.has_more.set(page.has_more);
        for message in page.messages {
            self.receive(message);
        }
    }

    /// Replaces what is shown with the latest page (after the server said `resync`).
    pub fn replace_with(&self, page: HistoryPage) {
        self.has_more.set(page.has_more);
        self.messages.set(page.messages);
    }

    /// Whether `author_id` is this page's person. Tracked: a name picked later re-marks
    /// messages already shown.
    pub fn is_mine(&self, author_id: &str) -> bool {
        self.me
            .with(|me| me.as_ref().is_some_and(|me| me.id == author_id))
    }

    /// Like [`Chat::is_mine`], outside any reactive context.
    pub fn is_mine_untracked(&self, author_id: &str) -> bool {
        self.me
            .with_untracked(|me| me.as_ref().is_some_and(|me| me.id == author_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::LOBBY;

    fn message(id: &str, user: &str) -> ChatMessage {
        ChatMessage {
            room: LOBBY.into(),
            seq: id.parse().unwrap(),
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
            let chat = Chat::new(None, page(vec![message("1", "a")]));
            chat.receive(message("3", "a"));
            chat.receive(message("2", "a"));
            chat.receive(message("3", "a"));
            let ids: Vec<String> = chat
                .messages
                .get_untracked()
                .into_iter()
                .map(|m| m.id)
                .collect();
            assert_eq!(ids, ["1", "2", "3"], "once each, in seq order");
            assert_eq!(chat.last_seq(), 3);
            assert_eq!(chat.first_seq(), Some(1));
        });
    }

    fn page(messages: Vec<ChatMessage>) -> HistoryPage {
        HistoryPage {
            room: LOBBY.into(),
            messages,
            has_more: false,
        }
    }

    #[test]
    fn pending_becomes_sent_then_gives_way_to_the_stored_message() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(None, page(vec![]));
            chat.add_pending("c1".into(), "hello".into());
            chat.add_pending("c2".into(), "again".into());
            assert_eq!(chat.unacknowledged().len(), 2);
            chat.acknowledge("c1");
            assert!(chat.pending.get_untracked()[0].acked);
            assert_eq!(chat.unacknowledged().len(), 1);
            chat.receive(message("1", "me")); // client_id "c1"
            assert_eq!(chat.pending.get_untracked().len(), 1);
            assert_eq!(chat.messages.get_untracked().len(), 1);
        });
    }

    /// The page reloaded after the server stored a message but before its copy arrived: the
    /// history shows it, and the outbox still holds it.
    #[test]
    fn a_restored_pending_message_already_in_the_history_is_shown_once() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(None, page(vec![message("1", "me")])); // client_id "c1"
            let saved = |client_id: &str| PendingMessage {
                client_id: client_id.into(),
                text: "t".into(),
                acked: false,
            };
            chat.restore_pending(vec![saved("c1"), saved("c2")]);
            let pending: Vec<String> = chat
                .pending
                .get_untracked()
                .into_iter()
                .map(|p| p.client_id)
                .collect();
            assert_eq!(pending, ["c2"], "only the one not stored yet stays pending");
            assert_eq!(chat.messages.get_untracked().len(), 1);
        });
    }

    /// A retry of a stored message is acked but not broadcast again: if the message is shown,
    /// the ack must remove the pending copy, or it would stay beside it for good.
    #[test]
    fn an_ack_for_a_message_already_shown_removes_its_pending_copy() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(None, page(vec![message("1", "me")])); // client_id "c1"
            chat.add_pending("c1".into(), "t".into());
            chat.acknowledge("c1");
            assert!(chat.pending.get_untracked().is_empty());
            assert_eq!(chat.messages.get_untracked().len(), 1);
        });
    }

    #[test]
    fn older_pages_go_in_front() {
        let owner = Owner::new();
        owner.with(|| {
            let chat = Chat::new(
                None,
                HistoryPage {
                    room: LOBBY.into(),
                    messages: vec![message("5", "a")],
                    has_more: true,
                },
            );
            chat.prepend(page(vec![message("3", "a"), message("4", "a")]));
            let seqs: Vec<u64> = chat
                .messages
                .get_untracked()
                .iter()
                .map(|m| m.seq)
                .collect();
            assert_eq!(seqs, [3, 4, 5]);
            assert!(!chat.has_more.get_untracked());
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
            let chat = Chat::new(Some(me), page(vec![]));
            assert!(chat.is_mine(&message("1", "me").user.id));
            assert!(!chat.is_mine(&message("2", "someone").user.id));
        });
    }
}
