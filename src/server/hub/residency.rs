//! Which rooms the hub keeps in memory.
//!
//! Every room name ever used stays in the store, but only rooms in use stay in memory: one
//! with nobody in it (here or, as presence, on another node) that no message, join or leave
//! touched for a while leaves ([`Hub::evict_idle`], run every few seconds by the server).
//! Whoever joins it later brings it back at the head the store reports ([`Hub::restore`]),
//! so opening a million room names costs a million rows, not a million rooms in memory.
//!
//! Nothing is lost by leaving: a room without members has nobody to deliver to, and its
//! messages are all in the store (the hub only ever publishes what is committed). A join
//! takes the store's head, or the hub's if a publish brought the room back in between,
//! whichever is later: every message up to it comes from the store, every later one is
//! published to the room in memory.
//!
//! Joins may bring at most `max_rooms` rooms into memory: past that, rooms without members
//! leave at once, least recently used first, and a join that finds none to let go is refused
//! ([`TooManyRooms`]). Publishing is never refused (the message is already stored): the next
//! sweep takes the room out again if nobody is there.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

use crate::protocol::LOBBY;
use crate::server::hub::fanout::{Hub, Room};

/// Every room in memory has members: a join may not bring in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{in_memory} rooms are in use on this server, its most")]
pub struct TooManyRooms {
    pub in_memory: usize,
}

impl Hub {
    /// Joins may bring at most `max_rooms` rooms into memory (0: no limit).
    pub fn with_room_limit(mut self, max_rooms: usize) -> Self {
        self.max_rooms = if max_rooms == 0 {
            usize::MAX
        } else {
            max_rooms
        };
        self
    }

    /// The store says `room` has messages through `head`: the room is brought into memory (or
    /// kept there) at that head, or at its own if a publish got there first and is later.
    pub fn restore(&self, room: &str, head: u64) -> Result<(), TooManyRooms> {
        if !self.has_room(room) {
            self.make_room_for_one()?;
        }
        self.with_room(room, true, |_, state| {
            state.head = state.head.max(head);
            state.head_known = true;
            state.last_used = Instant::now();
        });
        Ok(())
    }

    /// Takes out of memory every room (but the lobby) that nobody is in and nothing touched
    /// for `idle`. Returns how many left.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        self.evict(usize::MAX, |last_used| {
            now.duration_since(last_used) >= idle
        })
    }

    /// How many rooms are in memory, the lobby included.
    pub fn rooms_in_memory(&self) -> usize {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Below the limit, or brought below it by letting unused rooms go, oldest first.
    fn make_room_for_one(&self) -> Result<(), TooManyRooms> {
        let in_memory = self.rooms_in_memory();
        if in_memory < self.max_rooms {
            return Ok(());
        }
        let excess = in_memory + 1 - self.max_rooms;
        self.evict(excess, |_| true);
        let in_memory = self.rooms_in_memory();
        if in_memory < self.max_rooms {
            Ok(())
        } else {
            Err(TooManyRooms { in_memory })
        }
    }

    /// Takes out up to `most` unused rooms whose last use `old_enough` accepts, least recently
    /// used first.
    fn evict(&self, most: usize, old_enough: impl Fn(Instant) -> bool) -> usize {
        // Candidates are picked under the read lock, so lookups go on meanwhile; each is
        // checked again, under its own lock, once the write lock is held.
        let mut candidates: Vec<(Instant, Arc<Room>)> = {
            let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            rooms
                .values()
                .filter(|room| room.name.as_ref() != LOBBY)
                .filter_map(|room| {
                    let state = room.lock();
                    (state.is_unused() && old_enough(state.last_used))
                        .then(|| (state.last_used, room.clone()))
                })
                .collect()
        };
        if candidates.is_empty() {
            return 0;
        }
        candidates.sort_by_key(|(last_used, _)| *last_used);
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let mut evicted = 0;
        for (_, room) in candidates {
            if evicted == most {
                break;
            }
            let mut state = room.lock();
            if state.evicted || !state.is_unused() || !old_enough(state.last_used) {
                continue;
            }
            state.evicted = true;
            rooms.remove(&room.name);
            evicted += 1;
        }
        evicted
    }
}

/// Every few seconds (a quarter of `idle`, between 100 ms and 30 s), takes the rooms idle for
/// `idle` out of `hub`'s memory and sets `in_memory` to how many are left. Ends with the hub.
pub fn spawn_room_sweeper(hub: &Arc<Hub>, idle: Duration, in_memory: Gauge) {
    let hub = Arc::downgrade(hub);
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let Some(hub) = hub.upgrade() else {
                return;
            };
            let evicted = hub.evict_idle(idle);
            if evicted > 0 {
                tracing::debug!(evicted, "idle rooms left memory");
            }
            in_memory.set(hub.rooms_in_memory() as i64);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ChatMessage, User};
    use crate::server::hub::fanout::NotInMemory;
    use crate::server::hub::mailbox::mailbox;

    fn person(n: u64) -> Arc<User> {
        Arc::new(User {
            id: format!("u-{n}"),
            name: format!("P{n}"),
        })
    }

    fn message(room: &str, seq: u64) -> ChatMessage {
        ChatMessage {
            room: room.into(),
            seq,
            id: format!("m{seq}"),
            client_id: format!("c{seq}"),
            user: User::clone(&person(1)),
            text: seq.to_string(),
            ts: 0,
        }
    }

    #[test]
    fn a_room_out_of_memory_is_joined_at_the_head_the_store_gives() {
        let hub = Hub::new(&[]);
        let (sub, _mailbox) = mailbox(1, 8);
        assert_eq!(hub.join("team", sub.clone(), &person(1)), Err(NotInMemory));
        assert!(!hub.has_room("team"), "a refused join brings nothing in");
        hub.restore("team", 41).unwrap();
        assert_eq!(hub.join("team", sub, &person(1)).unwrap().head, 41);
    }

    #[test]
    fn a_publish_between_the_store_read_and_the_restore_wins() {
        let hub = Hub::new(&[]);
        // The joiner read head 4 from the store; message 5 was committed and published
        // before it restored the room.
        hub.publish(&message("team", 5));
        hub.restore("team", 4).unwrap();
        let (sub, _mailbox) = mailbox(1, 8);
        assert_eq!(hub.join("team", sub, &person(1)).unwrap().head, 5);
    }

    #[test]
    fn only_unused_rooms_leave_and_the_lobby_never_does() {
        let hub = Hub::new(&[]);
        hub.restore("empty", 3).unwrap();
        hub.restore("busy", 7).unwrap();
        let (sub, _in_busy) = mailbox(1, 8);
        hub.join("busy", sub, &person(1)).unwrap();
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        assert!(!hub.has_room("empty"));
        assert!(hub.has_room("busy"), "it has a member");
        assert!(hub.has_room(LOBBY));
        hub.leave(["busy"], 1);
        assert_eq!(
            hub.evict_idle(Duration::from_secs(3600)),
            0,
            "used just now"
        );
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        assert_eq!(hub.rooms_in_memory(), 1, "the lobby");
    }

    #[test]
    fn a_room_with_people_online_on_another_node_stays() {
        let hub = Hub::new(&[]);
        let node: Arc<str> = Arc::from("other-node");
        hub.remote_presence(&node, "team", &person(2), true);
        assert_eq!(hub.evict_idle(Duration::ZERO), 0);
        hub.remote_presence(&node, "team", &person(2), false);
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        hub.remote_presence(&node, "team", &person(2), false);
        assert!(!hub.has_room("team"), "a departure brings nothing back");
    }

    #[test]
    fn a_room_known_only_from_presence_needs_its_head_from_the_store() {
        let hub = Hub::new(&[]);
        let node: Arc<str> = Arc::from("other-node");
        hub.remote_presence(&node, "team", &person(2), true);
        let (sub, _mailbox) = mailbox(1, 8);
        assert_eq!(hub.join("team", sub.clone(), &person(1)), Err(NotInMemory));
        hub.restore("team", 9).unwrap();
        assert_eq!(hub.join("team", sub, &person(1)).unwrap().head, 9);
    }

    #[test]
    fn past_the_limit_unused_rooms_make_way_oldest_first_and_then_joins_are_refused() {
        let hub = Hub::new(&[]).with_room_limit(3); // the lobby and two more
        hub.restore("old", 1).unwrap();
        hub.restore("newer", 1).unwrap();
        hub.restore("third", 1).unwrap();
        assert!(!hub.has_room("old"), "the least recently used made way");
        assert!(hub.has_room("newer") && hub.has_room("third"));
        let mut mailboxes = Vec::new();
        for (n, room) in [(1, "newer"), (2, "third")] {
            let (sub, mailbox) = mailbox(n, 8);
            mailboxes.push(mailbox);
            hub.join(room, sub, &person(n)).unwrap();
        }
        assert_eq!(
            hub.restore("fourth", 1),
            Err(TooManyRooms { in_memory: 3 }),
            "every room has a member"
        );
        assert!(!hub.has_room("fourth"));
        hub.restore("third", 2).unwrap();
        assert!(hub.has_room("third"), "a room in memory is never refused");
        hub.leave(["newer"], 1);
        hub.restore("fourth", 1).unwrap();
        assert!(!hub.has_room("newer"));
    }

    #[test]
    fn a_room_taken_out_while_held_is_looked_up_again() {
        let hub = Hub::new(&[]);
        hub.restore("team", 2).unwrap();
        let stale = hub.rooms.read().unwrap().get("team").cloned().unwrap();
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        assert!(stale.lock().evicted);
        hub.publish(&message("team", 3));
        let (sub, _mailbox) = mailbox(1, 8);
        let joined = hub.join("team", sub, &person(1)).unwrap();
        assert_eq!(joined.head, 3, "the publish reached the room now in memory");
        assert_eq!(stale.lock().head, 2, "not the one that left");
    }
}
