//! Per room a connection has joined, the last seq it has been sent.
//!
//! A hub delivery at or below that seq was already sent while the connection caught up from
//! history, and is skipped: the seam between history and live messages has no duplicate.
//!
//! A connection is in a handful of rooms, so a vector searched in order beats a hash map,
//! and it holds one exactly sized allocation: an idle connection in the lobby pays 32 bytes
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
    last_sent: u64,
}

impl RoomCursors {
    fn position(&self, room: &str) -> Option<usize> {
        self.rooms.iter().position(|cursor| *cursor.name == *room)
    }

    /// Records that the connection has been sent room `id`, called `name`, up to `seq`.
    pub fn insert(&mut self, id: RoomId, name: Arc<str>, seq: u64) {
        let cursor = Cursor {
            id,
            name,
            last_sent: seq,
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

    pub fn contains(&self, room: &str) -> bool {
        self.position(room).is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_each_joined_room_by_number_and_by_name() {
        let mut cursors = RoomCursors::default();
        cursors.insert(1, Arc::from("lobby"), 3);
        cursors.insert(2, Arc::from("rust"), 0);
        // Joining again (another string with the same name) moves the cursor.
        cursors.insert(1, Arc::from("lobby"), 5);
        assert_eq!(cursors.rooms().count(), 2);
        assert_eq!(cursors.last_sent(1).copied(), Some(5));
        *cursors.last_sent(2).unwrap() = 9;
        assert_eq!(cursors.last_sent(2).copied(), Some(9));
        assert!(cursors.last_sent(7).is_none(), "a room never joined");
        cursors.remove("lobby");
        assert!(cursors.last_sent(1).is_none(), "a room left");
        assert!(!cursors.contains("lobby"));
        assert!(cursors.contains("rust"));
        assert_eq!(cursors.rooms().collect::<Vec<_>>(), vec!["rust"]);
    }
}
