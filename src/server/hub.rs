//! The broadcast hub: rooms, their members, and their recent messages.
//!
//! Publishing a message serializes it once; every member's queue receives a refcounted clone
//! of the same bytes. The hub never waits on a connection: a member whose queue is full is
//! evicted (see [`crate::server::mailbox`]), so one slow client cannot hold up a room.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::Utf8Bytes;

use crate::protocol::{ChatMessage, User};
use crate::server::mailbox::{ConnectionId, Offer, Subscriber};

/// Default number of recent messages each room keeps for the server-rendered page.
pub const DEFAULT_RECENT_PER_ROOM: usize = 100;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("room {0:?} does not exist")]
    UnknownRoom(String),
    #[error("this connection has not joined room {0:?}")]
    NotAMember(String),
}

/// A message to post, as the socket task hands it over.
#[derive(Debug)]
pub struct Post<'a> {
    pub room: &'a str,
    pub author: &'a User,
    /// `None` for clients that sent plain text: the hub picks one.
    pub client_id: Option<String>,
    pub text: String,
}

pub struct Hub {
    /// The set of rooms is fixed when the hub is built, so looking one up takes no lock.
    rooms: HashMap<String, Room>,
    /// How many recent messages each room keeps.
    recent_limit: usize,
}

/// One room. A single mutex covers members and recent messages so that every member sees
/// messages in the same order as the room's log.
struct Room {
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    members: HashMap<ConnectionId, Subscriber>,
    recent: VecDeque<ChatMessage>,
}

impl Hub {
    pub fn new<I, S>(rooms: I, recent_limit: usize) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let rooms = rooms
            .into_iter()
            .map(|name| {
                let room = Room {
                    state: Mutex::new(RoomState::default()),
                };
                (name.into(), room)
            })
            .collect();
        Hub {
            rooms,
            recent_limit,
        }
    }

    fn room(&self, name: &str) -> Result<&Room, HubError> {
        self.rooms
            .get(name)
            .ok_or_else(|| HubError::UnknownRoom(name.to_owned()))
    }

    /// Adds a connection to a room; it receives every message published after this call.
    pub fn join(&self, room: &str, subscriber: Subscriber) -> Result<(), HubError> {
        let mut state = self.room(room)?.lock();
        state.members.insert(subscriber.id, subscriber);
        Ok(())
    }

    /// Removes a connection from a room. Leaving a room one is not in is not an error.
    pub fn leave(&self, room: &str, connection: ConnectionId) {
        if let Ok(room) = self.room(room) {
            room.lock().members.remove(&connection);
        }
    }

    /// Removes a connection from every room (the socket task calls this when it ends).
    pub fn leave_all(&self, connection: ConnectionId) {
        for room in self.rooms.values() {
            room.lock().members.remove(&connection);
        }
    }

    /// Stores `post` in the room's recent log and queues it for every member, the sender
    /// included. Returns the message as broadcast.
    pub fn publish(&self, sender: ConnectionId, post: Post<'_>) -> Result<ChatMessage, HubError> {
        let room = self.room(post.room)?;
        let message = ChatMessage {
            room: post.room.to_owned(),
            id: uuid::Uuid::now_v7().to_string(),
            client_id: post
                .client_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            user: post.author.clone(),
            text: post.text,
            ts: unix_millis(),
        };
        // Serialized once, outside the lock; each member gets a refcounted clone.
        let frame = Utf8Bytes::from(message.to_frame_json());

        let mut state = room.lock();
        if !state.members.contains_key(&sender) {
            return Err(HubError::NotAMember(post.room.to_owned()));
        }
        state.recent.push_back(message.clone());
        while state.recent.len() > self.recent_limit {
            state.recent.pop_front();
        }
        let mut departed = Vec::new();
        for (id, member) in &state.members {
            match member.offer(frame.clone()) {
                Offer::Queued => {}
                Offer::Evicted => {
                    tracing::warn!(
                        connection = *id,
                        room = post.room,
                        "evicting slow consumer: its queue is full"
                    );
                    departed.push(*id);
                }
                Offer::Gone => departed.push(*id),
            }
        }
        for id in departed {
            state.members.remove(&id);
        }
        Ok(message)
    }

    /// The room's most recent messages, oldest first.
    pub fn recent(&self, room: &str) -> Result<Vec<ChatMessage>, HubError> {
        Ok(self.room(room)?.lock().recent.iter().cloned().collect())
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

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;
    use crate::server::mailbox::{mailbox, Mailbox};

    fn ada() -> User {
        User {
            id: "u-ada".into(),
            name: "Ada".into(),
        }
    }

    fn post<'a>(author: &'a User, text: &str) -> Post<'a> {
        Post {
            room: "lobby",
            author,
            client_id: Some(format!("c-{text}")),
            text: text.into(),
        }
    }

    fn joined(hub: &Hub, id: ConnectionId, capacity: usize) -> Mailbox {
        let (sub, mailbox) = mailbox(id, capacity);
        hub.join("lobby", sub).unwrap();
        mailbox
    }

    fn next_message(mailbox: &mut Mailbox) -> ChatMessage {
        let frame = mailbox.frames.try_recv().expect("a queued frame");
        match serde_json::from_str(frame.as_str()).unwrap() {
            ServerFrame::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn every_member_gets_one_copy_sender_included() {
        let hub = Hub::new(["lobby"], 10);
        let mut a = joined(&hub, 1, 8);
        let mut b = joined(&hub, 2, 8);
        let sent = hub.publish(1, post(&ada(), "hello")).unwrap();
        assert_eq!(next_message(&mut a), sent);
        assert_eq!(next_message(&mut b), sent);
        assert!(a.frames.try_recv().is_err());
        assert!(b.frames.try_recv().is_err());
    }

    #[test]
    fn broadcast_is_serialized_once_and_shared() {
        let hub = Hub::new(["lobby"], 10);
        let mut a = joined(&hub, 1, 8);
        let mut b = joined(&hub, 2, 8);
        hub.publish(1, post(&ada(), "x")).unwrap();
        let fa = a.frames.try_recv().unwrap();
        let fb = b.frames.try_recv().unwrap();
        assert_eq!(
            fa.as_str().as_ptr(),
            fb.as_str().as_ptr(),
            "both must point at one buffer"
        );
    }

    #[test]
    fn messages_keep_their_order_for_everyone() {
        let hub = Hub::new(["lobby"], 10);
        let mut a = joined(&hub, 1, 8);
        for text in ["1", "2", "3"] {
            hub.publish(1, post(&ada(), text)).unwrap();
        }
        let texts: Vec<_> = (0..3).map(|_| next_message(&mut a).text).collect();
        assert_eq!(texts, ["1", "2", "3"]);
    }

    #[test]
    fn recent_keeps_the_last_n_oldest_first() {
        let hub = Hub::new(["lobby"], 2);
        let _a = joined(&hub, 1, 8);
        for text in ["1", "2", "3"] {
            hub.publish(1, post(&ada(), text)).unwrap();
        }
        let texts: Vec<_> = hub
            .recent("lobby")
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["2", "3"]);
    }

    #[test]
    fn slow_member_is_evicted_and_others_keep_receiving() {
        let hub = Hub::new(["lobby"], 10);
        let mut fast = joined(&hub, 1, 16);
        let slow = joined(&hub, 2, 2);
        for n in 0..5 {
            hub.publish(1, post(&ada(), &n.to_string())).unwrap();
            // The fast reader keeps up.
            assert_eq!(next_message(&mut fast).text, n.to_string());
        }
        assert!(
            slow.evicted.is_cancelled(),
            "the slow member must be told, not skipped"
        );
        assert_eq!(hub.member_count("lobby").unwrap(), 1);
    }

    #[test]
    fn departed_members_are_pruned_on_publish() {
        let hub = Hub::new(["lobby"], 10);
        let _a = joined(&hub, 1, 8);
        drop(joined(&hub, 2, 8));
        hub.publish(1, post(&ada(), "x")).unwrap();
        assert_eq!(hub.member_count("lobby").unwrap(), 1);
    }

    #[test]
    fn unknown_room_and_non_member_are_refused_and_nothing_is_stored() {
        let hub = Hub::new(["lobby", "other"], 10);
        let _a = joined(&hub, 1, 8);
        let author = ada();
        let mut p = post(&author, "x");
        p.room = "nowhere";
        assert_eq!(
            hub.publish(1, p),
            Err(HubError::UnknownRoom("nowhere".into()))
        );
        let mut p = post(&author, "x");
        p.room = "other";
        assert_eq!(hub.publish(1, p), Err(HubError::NotAMember("other".into())));
        assert!(hub.recent("other").unwrap().is_empty());
        assert_eq!(
            hub.publish(9, post(&ada(), "x")),
            Err(HubError::NotAMember("lobby".into()))
        );
        assert!(hub.recent("lobby").unwrap().is_empty());
    }

    #[test]
    fn plain_text_posts_get_a_generated_client_id() {
        let hub = Hub::new(["lobby"], 10);
        let _a = joined(&hub, 1, 8);
        let author = ada();
        let mut p = post(&author, "x");
        p.client_id = None;
        let m = hub.publish(1, p).unwrap();
        assert_eq!(m.client_id.len(), 36);
    }

    #[test]
    fn leave_all_removes_the_connection() {
        let hub = Hub::new(["lobby"], 10);
        let _a = joined(&hub, 1, 8);
        hub.leave_all(1);
        assert_eq!(hub.member_count("lobby").unwrap(), 0);
    }
}
