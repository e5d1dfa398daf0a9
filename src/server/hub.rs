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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;

use crate::protocol::ChatMessage;
use crate::server::mailbox::{ConnectionId, Delivery, Offer, Subscriber};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("room {0:?} does not exist")]
    UnknownRoom(String),
}

pub struct Hub {
    /// The set of rooms is fixed when the hub is built, so looking one up takes no lock.
    rooms: HashMap<String, Room>,
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
    /// A hub with `rooms`, each starting at the head the store reports (0 if absent).
    pub fn new<I, S>(rooms: I, heads: &[(String, u64)]) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let rooms = rooms
            .into_iter()
            .map(|name| {
                let name: String = name.into();
                let head = heads
                    .iter()
                    .find(|(room, _)| *room == name)
                    .map_or(0, |(_, head)| *head);
                let room = Room {
                    name: Arc::from(name.as_str()),
                    state: Mutex::new(RoomState {
                        members: HashMap::new(),
                        head,
                    }),
                };
                (name, room)
            })
            .collect();
        Hub { rooms }
    }

    fn room(&self, name: &str) -> Result<&Room, HubError> {
        self.rooms
            .get(name)
            .ok_or_else(|| HubError::UnknownRoom(name.to_owned()))
    }

    pub fn has_room(&self, name: &str) -> bool {
        self.rooms.contains_key(name)
    }

    /// Adds (or re-adds) a connection to a room. It receives every message published after
    /// this call; the returned head is the last seq it will *not* receive from the hub.
    pub fn join(&self, room: &str, subscriber: Subscriber) -> Result<u64, HubError> {
        let mut state = self.room(room)?.lock();
        state.members.insert(subscriber.id, subscriber);
        Ok(state.head)
    }

    /// Removes a connection from every room (the socket task calls this when it ends).
    pub fn leave_all(&self, connection: ConnectionId) {
        for room in self.rooms.values() {
            room.lock().members.remove(&connection);
        }
    }

    /// Queues a stored message for every member of its room, the sender included. Messages
    /// must come in seq order; one at or below the head was already published and is skipped.
    pub fn publish(&self, message: &ChatMessage) -> Result<(), HubError> {
        let room = self.room(&message.room)?;
        // Serialized once, outside the lock; each member gets a refcounted clone.
        let frame = Utf8Bytes::from(message.to_frame_json());
        let mut state = room.lock();
        if message.seq <= state.head {
            return Ok(());
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
        Ok(())
    }

    pub fn member_count(&self, room: &str) -> Result<usize, HubError> {
        Ok(self.room(room)?.lock().members.len())
    }
}

impl Room {
    fn lock(&self) -> std::sync::MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to
        // keep serving: recover instead of poisoning the room forever.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerFrame, User};
    use crate::server::mailbox::{mailbox, Mailbox};

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
        let head = hub.join("lobby", sub).unwrap();
        (head, mailbox)
    }

    fn next_message(mailbox: &mut Mailbox) -> ChatMessage {
        let delivery = mailbox.frames.try_recv().expect("a queued frame");
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
        let hub = Hub::new(["lobby"], &[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1)).unwrap();
        assert_eq!(next_message(&mut a), message(1));
        assert_eq!(next_message(&mut b), message(1));
        assert!(a.frames.try_recv().is_err());
        assert!(b.frames.try_recv().is_err());
    }

    #[test]
    fn broadcast_is_serialized_once_and_shared() {
        let hub = Hub::new(["lobby"], &[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1)).unwrap();
        let fa = a.frames.try_recv().unwrap().frame;
        let fb = b.frames.try_recv().unwrap().frame;
        assert_eq!(
            fa.as_str().as_ptr(),
            fb.as_str().as_ptr(),
            "both must point at one buffer"
        );
    }

    #[test]
    fn join_reports_the_head_and_receives_only_what_follows() {
        let hub = Hub::new(["lobby"], &[("lobby".to_owned(), 7)]);
        let (head, mut a) = joined(&hub, 1, 8);
        assert_eq!(head, 7);
        hub.publish(&message(8)).unwrap();
        let (head, mut b) = joined(&hub, 2, 8);
        assert_eq!(head, 8);
        hub.publish(&message(9)).unwrap();
        assert_eq!(next_message(&mut a).seq, 8);
        assert_eq!(next_message(&mut a).seq, 9);
        assert_eq!(next_message(&mut b).seq, 9);
        assert!(b.frames.try_recv().is_err());
    }

    #[test]
    fn an_already_published_seq_is_not_sent_again() {
        let hub = Hub::new(["lobby"], &[]);
        let (_, mut a) = joined(&hub, 1, 8);
        hub.publish(&message(1)).unwrap();
        hub.publish(&message(1)).unwrap();
        next_message(&mut a);
        assert!(a.frames.try_recv().is_err());
    }

    #[test]
    fn slow_member_is_evicted_and_others_keep_receiving() {
        let hub = Hub::new(["lobby"], &[]);
        let (_, mut fast) = joined(&hub, 1, 16);
        let (_, slow) = joined(&hub, 2, 2);
        for seq in 1..=5 {
            hub.publish(&message(seq)).unwrap();
            assert_eq!(next_message(&mut fast).seq, seq);
        }
        assert!(
            slow.evicted.is_cancelled(),
            "the slow member must be told, not skipped"
        );
        assert_eq!(hub.member_count("lobby").unwrap(), 1);
    }

    #[test]
    fn departed_members_are_pruned_on_publish() {
        let hub = Hub::new(["lobby"], &[]);
        let _a = joined(&hub, 1, 8);
        drop(joined(&hub, 2, 8));
        hub.publish(&message(1)).unwrap();
        assert_eq!(hub.member_count("lobby").unwrap(), 1);
    }

    #[test]
    fn unknown_rooms_are_refused() {
        let hub = Hub::new(["lobby"], &[]);
        let mut m = message(1);
        m.room = "nowhere".into();
        assert_eq!(
            hub.publish(&m),
            Err(HubError::UnknownRoom("nowhere".into()))
        );
        let (sub, _mailbox) = mailbox(1, 1);
        assert_eq!(
            hub.join("nowhere", sub),
            Err(HubError::UnknownRoom("nowhere".into()))
        );
        assert!(!hub.has_room("nowhere"));
    }

    #[test]
    fn leave_all_removes_the_connection() {
        let hub = Hub::new(["lobby"], &[]);
        let _a = joined(&hub, 1, 8);
        hub.leave_all(1);
        assert_eq!(hub.member_count("lobby").unwrap(), 0);
    }
}
