//! Per room a connection has joined, the run of seqs it has been sent: every message after
//! `sent_from` up to `last_sent`.
//!
//! A hub delivery at or below `last_sent` was already sent while the connection caught up from
//! history, and is skipped: the seam between history and live messages has no duplicate. A
//! second `join` of the same room replays only what lies outside the run, so one connection
//! never sends a message twice.
//!
//! A connection is in a handful of rooms, so a vector searched in order beats a hash map,
//! and it holds one exactly sized allocation: an idle connection in the lobby pays 40 bytes
//! here instead of a hash table's 150. Deliveries name their room by the hub's number for
//! it; requests by name, which is the hub's own shared string, not a copy.

use std::sync::Arc;

use crate::server::hub::mailbox::RoomId;

#[derive(Debug, Default)]
pub struct RoomCursors {
    rooms: Vec<Cursor>,
}

#[derive(Debug)]
struct Cursor {
    id: RoomId,
    name: Arc<str>,
    sent_from: u64,
    last_sent: u64,
}

impl RoomCursors {
    fn position(&self, room: &str) -> Option<usize> {
        self.rooms.iter().position(|cursor| *cursor.name == *room)
    }

    /// Records that the connection has been sent every message of room `id`, called `name`,
    /// after `sent_from` up to `last_sent`.
    pub fn insert(&mut self, id: RoomId, name: Arc<str>, sent_from: u64, last_sent: u64) {
        let cursor = Cursor {
            id,
            name,
            sent_from,
            last_sent,
        };
        match self.position(&cursor.name) {
            Some(index) => self.rooms[index] = cursor,
            None => {
                self.rooms.reserve_exact(1);
                self.rooms.push(cursor);
            }
        }
    }

    pub fn remove(&mut self, room: &str) {
        if let Some(index) = self.position(room) {
            self.rooms.swap_remove(index);
            self.rooms.shrink_to_fit();
        }
    }

    /// How many rooms the connection is in, the lobby included.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    pub fn contains(&self, room: &str) -> bool {
        self.position(room).is_some()
    }

    /// The run of seqs of `room` already sent, `(sent_from, last_sent)`; `None` if not joined.
    pub fn sent(&self, room: &str) -> Option<(u64, u64)> {
        self.position(room).map(|index| {
            let cursor = &self.rooms[index];
            (cursor.sent_from, cursor.last_sent)
        })
    }

    /// The last seq sent of room `id`, to compare and advance; `None` if it is not joined.
    pub fn last_sent(&mut self, id: RoomId) -> Option<&mut u64> {
        self.rooms
            .iter_mut()
            .find(|cursor| cursor.id == id)
            .map(|cursor| &mut cursor.last_sent)
    }

    pub fn rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms.iter().map(|cursor| &*cursor.name)
    }
}

/// What a `join` still has to send from history: the seq ranges `(after, up_to]`, oldest
/// first, and where the connection's run of sent messages then begins.
#[derive(Debug, PartialEq, Eq)]
pub struct Replay {
    pub ranges: Vec<(u64, u64)>,
    pub sent_from: u64,
}

impl Replay {
    /// How many messages the ranges hold.
    pub fn count(&self) -> u64 {
        self.ranges.iter().map(|(after, up_to)| up_to - after).sum()
    }
}

/// The messages after `since` up to `head` that the connection has not sent already, given
/// the run it has (`sent`, from [`RoomCursors::sent`]). `since` must not exceed `head`.
///
/// A client that joins a room its connection is already live in (the lobby, right after
/// connecting) has been sent part of what it asks for: that part is not sent again. Whatever
/// the client missed before the run comes after it, out of seq order, which the client sorts;
/// `/ws?since=` resumes the lobby without that seam.
pub fn still_to_send(sent: Option<(u64, u64)>, since: u64, head: u64) -> Replay {
    match sent {
        None => Replay {
            ranges: nonempty([(since, head)]),
            sent_from: since,
        },
        Some((sent_from, last_sent)) if since >= sent_from => Replay {
            ranges: nonempty([(since.max(last_sent), head)]),
            sent_from,
        },
        Some((sent_from, last_sent)) => Replay {
            ranges: nonempty([(since, sent_from), (last_sent, head)]),
            sent_from: since,
        },
    }
}

fn nonempty<const N: usize>(ranges: [(u64, u64); N]) -> Vec<(u64, u64)> {
    ranges
        .into_iter()
        .filter(|(after, up_to)| after < up_to)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_join_replays_everything_after_since() {
        assert_eq!(
            still_to_send(None, 3, 9),
            Replay {
                ranges: vec![(3, 9)],
                sent_from: 3
            }
        );
        assert_eq!(still_to_send(None, 9, 9).count(), 0, "nothing missed");
    }

    #[test]
    fn joining_again_never_replays_what_the_connection_sent() {
        // Live since 5, sent up to 8; the room is at 10 now.
        let replay = still_to_send(Some((5, 8)), 6, 10);
        assert_eq!(replay.ranges, vec![(8, 10)]);
        assert_eq!(replay.sent_from, 5);
        assert_eq!(still_to_send(Some((5, 8)), 10, 10).count(), 0);
        // Without since the join means "from the head": nothing at all.
        assert_eq!(still_to_send(Some((5, 10)), 10, 10).ranges, vec![]);
    }

    #[test]
    fn joining_again_from_before_the_run_fills_in_front_of_it() {
        // Live since 5, sent up to 8; the client holds up to 2, the room is at 9.
        let replay = still_to_send(Some((5, 8)), 2, 9);
        assert_eq!(replay.ranges, vec![(2, 5), (8, 9)]);
        assert_eq!(replay.count(), 4);
        assert_eq!(replay.sent_from, 2);
    }

    #[test]
    fn tracks_each_joined_room_by_number_and_by_name() {
        let mut cursors = RoomCursors::default();
        cursors.insert(1, Arc::from("lobby"), 3, 3);
        cursors.insert(2, Arc::from("rust"), 0, 0);
        // Joining again (another string with the same name) moves the cursor.
        cursors.insert(1, Arc::from("lobby"), 2, 5);
        assert_eq!(cursors.sent("lobby"), Some((2, 5)));
        assert_eq!(cursors.rooms().count(), 2);
        assert_eq!(cursors.last_sent(1).copied(), Some(5));
        *cursors.last_sent(2).unwrap() = 9;
        assert_eq!(cursors.last_sent(2).copied(), Some(9));
        assert_eq!(cursors.sent("rust"), Some((0, 9)));
        assert!(cursors.last_sent(7).is_none(), "a room never joined");
        cursors.remove("lobby");
        assert!(cursors.last_sent(1).is_none(), "a room left");
        assert!(!cursors.contains("lobby"));
        assert_eq!(cursors.sent("lobby"), None);
        assert!(cursors.contains("rust"));
        assert_eq!(cursors.rooms().collect::<Vec<_>>(), vec!["rust"]);
    }
}
