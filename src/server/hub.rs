//! The broadcast hub: rooms, their members, and the seq each room has published up to.
//!
//! The hub fans out messages that are already stored (the committer hands them over in seq
//! order). Publishing serializes a message once; every member's queue receives a refcounted
//! clone of the same bytes. The hub never waits on a connection: a member whose queue is full
//! is evicted (see [`crate::server::mailbox`]), so one slow client cannot hold up a room.
//!
//! Joining returns the room's published head under the same lock that publishing takes: every
//! message up to that head must come from the store, every later one arrives in the mailbox.
//! That seam is what makes resume gap-free and duplicate-free.
//!
//! Rooms come into being when first joined or first published to. The set of rooms sits
//! behind a read-write lock that only the first use of a room writes; each room then has its
//! own mutex, so rooms never wait on one another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use axum::extract::ws::Utf8Bytes;

use crate::protocol::{ChatMessage, LOBBY};
use crate::server::mailbox::{ConnectionId, Delivery, Offer, Subscriber};

pub struct Hub {
    rooms: RwLock<HashMap<Arc<str>, Arc<Room>>>,
}

/// One room. A single mutex covers members and head so that joining and publishing are
/// ordered: a joiner either gets a message from the store (seq ≤ the head it saw) or in its
/// mailbox (seq > head), never both and never neither.
struct Room {
    name: Arc<str>,
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    members: HashMap<ConnectionId, Subscriber>,
    /// Seq of the last message published.
    head: u64,
}

impl Hub {
    /// A hub that knows the heads the store reports, so a room that already has history
    /// continues from its last seq. The lobby always exists.
    pub fn new(heads: &[(String, u64)]) -> Self {
        let lobby = (LOBBY.to_owned(), 0);
        let rooms = std::iter::once(&lobby)
            .chain(heads)
            .map(|(name, head)| {
                let room = Room::new(name, *head);
                (room.name.clone(), Arc::new(room))
            })
            .collect();
        Hub {
            rooms: RwLock::new(rooms),
        }
    }

    /// The room called `name`, created (empty, at head 0) on first use. Names are checked
    /// by the protocol before they get here.
    fn room(&self, name: &str) -> Arc<Room> {
        if let Some(room) = self.existing(name) {
            return room;
        }
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        rooms
            .entry(Arc::from(name))
            .or_insert_with(|| Arc::new(Room::new(name, 0)))
            .clone()
    }

    fn existing(&self, name: &str) -> Option<Arc<Room>> {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        rooms.get(name).cloned()
    }

    /// Whether `name` has been joined or has history.
    pub fn has_room(&self, name: &str) -> bool {
        self.existing(name).is_some()
    }

    /// Adds (or re-adds) a connection to a room. It receives every message published after
    /// this call; the returned head is the last seq it will *not* receive from the hub.
    pub fn join(&self, room: &str, subscriber: Subscriber) -> u64 {
        let room = self.room(room);
        let mut state = room.lock();
        state.members.insert(subscriber.id, subscriber);
        state.head
    }

    /// Removes a connection from the given rooms (the socket task calls this when it ends,
    /// with the rooms it joined).
    pub fn leave<'a>(&self, rooms: impl IntoIterator<Item = &'a str>, connection: ConnectionId) {
        for name in rooms {
            if let Some(room) = self.existing(name) {
                room.lock().members.remove(&connection);
            }
        }
    }

    /// Queues a stored message for every member of its room, the sender included. Messages
    /// must come in seq order; one at or below the head was already published and is skipped.
    pub fn publish(&self, message: &ChatMessage) {
        let room = self.room(&message.room);
        // Serialized once, outside the lock; each member gets a refcounted clone.
        let frame = Utf8Bytes::from(message.to_frame_json());
        let mut state = room.lock();
        if message.seq <= state.head {
            return;
        }
        state.head = message.seq;
        let mut departed = Vec::new();
        for (id, member) in &state.members {
            let delivery = Delivery {
                room: room.name.clone(),
                seq: message.seq,
                frame: frame.clone(),
            };
            match member.offer(delivery) {
                Offer::Queued => {}
                Offer::Evicted => {
                    tracing::warn!(connection = *id, room = %room.name, "evicting slow consumer: its queue is full");
                    departed.push(*id);
                }
                Offer::Gone => departed.push(*id),
            }
        }
        for id in departed {
            state.members.remove(&id);
        }
    }

    /// Members of `room` (0 for a room never used).
    pub fn member_count(&self, room: &str) -> usize {
        self.existing(room)
            .map_or(0, |room| room.lock().members.len())
    }
}

impl Room {
    fn new(name: &str, head: u64) -> Self {
        Room {
            name: Arc::from(name),
            state: Mutex::new(RoomState {
                members: HashMap::new(),
                head,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to
        // keep serving: recover instead of poisoning the room forever.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerFrame, User};
    use crate::server::mailbox::{mailbox, Mailbox, Stop};

    fn message(seq: u64) -> ChatMessage {
        ChatMessage {
            room: "lobby".into(),
            seq,
            id: format!("m{seq}"),
            client_id: format!("c{seq}"),
            user: User {
                id: "u-ada".into(),
                name: "Ada".into(),
            },
            text: seq.to_string(),
            ts: 0,
        }
    }

    fn joined(hub: &Hub, id: ConnectionId, capacity: usize) -> (u64, Mailbox) {
        let (sub, mailbox) = mailbox(id, capacity);
        let head = hub.join("lobby", sub);
        (head, mailbox)
    }

    fn next_message(mailbox: &mut Mailbox) -> ChatMessage {
        let delivery = mailbox.try_recv().expect("a queued frame");
        match serde_json::from_str(delivery.frame.as_str()).unwrap() {
            ServerFrame::Message(m) => {
                assert_eq!(m.seq, delivery.seq);
                m
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn every_member_gets_one_copy_sender_included() {
        let hub = Hub::new(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1));
        assert_eq!(next_message(&mut a), message(1));
        assert_eq!(next_message(&mut b), message(1));
        assert!(a.try_recv().is_none());
        assert!(b.try_recv().is_none());
    }

    #[test]
    fn broadcast_is_serialized_once_and_shared() {
        let hub = Hub::new(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1));
        let fa = a.try_recv().unwrap().frame;
        let fb = b.try_recv().unwrap().frame;
        assert_eq!(
            fa.as_str().as_ptr(),
            fb.as_str().as_ptr(),
            "both must point at one buffer"
        );
    }

    #[test]
    fn join_reports_the_head_and_receives_only_what_follows() {
        let hub = Hub::new(&[("lobby".to_owned(), 7)]);
        let (head, mut a) = joined(&hub, 1, 8);
        assert_eq!(head, 7);
        hub.publish(&message(8));
        let (head, mut b) = joined(&hub, 2, 8);
        assert_eq!(head, 8);
        hub.publish(&message(9));
        assert_eq!(next_message(&mut a).seq, 8);
        assert_eq!(next_message(&mut a).seq, 9);
        assert_eq!(next_message(&mut b).seq, 9);
        assert!(b.try_recv().is_none());
    }

    #[test]
    fn an_already_published_seq_is_not_sent_again() {
        let hub = Hub::new(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        hub.publish(&message(1));
        hub.publish(&message(1));
        next_message(&mut a);
        assert!(a.try_recv().is_none());
    }

    #[test]
    fn slow_member_is_evicted_and_others_keep_receiving() {
        let hub = Hub::new(&[]);
        let (_, mut fast) = joined(&hub, 1, 16);
        let (_, slow) = joined(&hub, 2, 2);
        for seq in 1..=5 {
            hub.publish(&message(seq));
            assert_eq!(next_message(&mut fast).seq, seq);
        }
        assert_eq!(
            slow.stopped(),
            Some(Stop::TooSlow),
            "the slow member must be told, not skipped"
        );
        assert_eq!(hub.member_count("lobby"), 1);
    }

    #[test]
    fn departed_members_are_pruned_on_publish() {
        let hub = Hub::new(&[]);
        let _a = joined(&hub, 1, 8);
        drop(joined(&hub, 2, 8));
        hub.publish(&message(1));
        assert_eq!(hub.member_count("lobby"), 1);
    }

    #[test]
    fn rooms_come_into_being_on_first_use_and_keep_apart() {
        let hub = Hub::new(&[("old".to_owned(), 3)]);
        assert!(hub.has_room("old"));
        assert!(!hub.has_room("new"));
        let (sub, mut in_new) = mailbox(1, 8);
        assert_eq!(hub.join("new", sub), 0);
        assert!(hub.has_room("new"));
        let (sub, mut in_old) = mailbox(2, 8);
        assert_eq!(
            hub.join("old", sub),
            3,
            "history continues where the store left off"
        );
        let mut m = message(1);
        m.room = "new".into();
        hub.publish(&m);
        assert_eq!(in_new.try_recv().unwrap().seq, 1);
        assert!(in_old.try_recv().is_none(), "another room's message");
        // Publishing to a room nobody joined creates it at that head.
        let mut m = message(5);
        m.room = "quiet".into();
        hub.publish(&m);
        let (sub, _mailbox) = mailbox(3, 8);
        assert_eq!(hub.join("quiet", sub), 5);
    }

    #[test]
    fn leave_removes_the_connection_from_the_rooms_named() {
        let hub = Hub::new(&[]);
        let _a = joined(&hub, 1, 8);
        let (sub, _b) = mailbox(1, 8);
        hub.join("other", sub);
        hub.leave(["lobby", "other", "never-used"], 1);
        assert_eq!(hub.member_count("lobby"), 0);
        assert_eq!(hub.member_count("other"), 0);
        assert!(!hub.has_room("never-used"), "leaving creates nothing");
    }
}
