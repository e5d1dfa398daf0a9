//! Per room a connection has joined, the last seq it has been sent.
//!
//! A hub delivery at or below that seq was already sent while the connection caught up from
//! history, and is skipped: the seam between history and live messages has no duplicate.
//!
//! A connection is in a handful of rooms, so a vector searched in order beats a hash map,
//! and it holds one exactly sized allocation: an idle connection in the lobby pays 24 bytes
//! here instead of a hash table's 150. Room names are the hub's own shared strings, not
//! copies.

use std::sync::Arc;

#[derive(Debug, Default)]
pub struct RoomCursors {
    rooms: Vec<(Arc<str>, u64)>,
}

impl RoomCursors {
    fn position(&self, room: &str) -> Option<usize> {
        self.rooms.iter().position(|(name, _)| **name == *room)
    }

    /// Records that the connection has been sent `room` up to `seq`.
    pub fn insert(&mut self, room: Arc<str>, seq: u64) {
        match self.position(&room) {
            Some(index) => self.rooms[index] = (room, seq),
            None => {
                self.rooms.reserve_exact(1);
                self.rooms.push((room, seq));
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

    /// The last seq sent of `room`, to compare and advance; `None` if it was not joined.
    pub fn last_sent(&mut self, room: &str) -> Option<&mut u64> {
        let index = self.position(room)?;
        Some(&mut self.rooms[index].1)
    }

    pub fn rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms.iter().map(|(name, _)| &**name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_each_room_by_name_whichever_string_names_it() {
        let mut cursors = RoomCursors::default();
        cursors.insert(Arc::from("lobby"), 3);
        cursors.insert(Arc::from("rust"), 0);
        // Another allocation with the same name is the same room.
        cursors.insert(Arc::from("lobby"), 5);
        assert_eq!(cursors.rooms().count(), 2);
        assert_eq!(cursors.last_sent("lobby").copied(), Some(5));
        *cursors.last_sent("rust").unwrap() = 9;
        assert_eq!(cursors.last_sent("rust").copied(), Some(9));
        assert!(cursors.last_sent("elsewhere").is_none());
        cursors.remove("lobby");
        assert!(!cursors.contains("lobby"));
        assert!(cursors.contains("rust"));
        assert_eq!(cursors.rooms().collect::<Vec<_>>(), vec!["rust"]);
    }
}
