//! Spreading a run's connections over rooms, for the many-small-rooms scenario. Without
//! rooms every connection is in the server's one default room (Huddle's lobby, a peer's "/ws").

use crate::adapter::Protocol;

/// Connection `i` of a worker is in room `(offset + i) % count`; `count` 0 means no rooms.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rooms {
    pub count: usize,
    pub offset: usize,
}

impl Rooms {
    /// The room of connection `index`, if the run has rooms.
    pub fn of(&self, index: usize) -> Option<String> {
        (self.count > 0).then(|| room_name((self.offset + index) % self.count))
    }
}

pub fn room_name(number: usize) -> String {
    format!("room-{number}")
}

/// Where connection `index` connects and the frame (if any) that puts it in its room.
pub struct Placement {
    pub url: String,
    pub join: Option<String>,
}

pub fn place(protocol: Protocol, base_url: &str, room: Option<&str>) -> Placement {
    Placement {
        url: protocol.url_for(base_url, room),
        join: room.and_then(|room| protocol.join_frame(room)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_spread_evenly_and_workers_continue_where_the_last_left_off() {
        let first = Rooms {
            count: 3,
            offset: 0,
        };
        let second = Rooms {
            count: 3,
            offset: 4,
        };
        let names: Vec<_> = (0..4).filter_map(|i| first.of(i)).collect();
        assert_eq!(names, ["room-0", "room-1", "room-2", "room-0"]);
        assert_eq!(second.of(0).as_deref(), Some("room-1"));
        assert_eq!(Rooms::default().of(7), None);
    }

    #[test]
    fn huddle_joins_by_frame_and_peers_by_path() {
        let huddle = place(Protocol::Huddle, "ws://h/ws", Some("room-2"));
        assert_eq!(huddle.url, "ws://h/ws");
        assert_eq!(
            huddle.join.as_deref(),
            Some(r#"{"type":"join","room":"room-2"}"#)
        );
        let peer = place(Protocol::Plain, "ws://p/ws", Some("room-2"));
        assert_eq!(peer.url, "ws://p/ws/r/room-2");
        assert_eq!(peer.join, None);
        let lobby = place(Protocol::Plain, "ws://p/ws", None);
        assert_eq!(lobby.url, "ws://p/ws");
    }
}
