//! The two wire protocols the load generator speaks: Huddle's, and the plain broadcast
//! protocol of the peers (every text frame goes verbatim to everyone).
//!
//! Payloads are the same bytes in both, so the only difference measured is the server.

use std::sync::LazyLock;

use clap::ValueEnum;
use memchr::memmem::Finder;

/// The key before a delivered message's text in Huddle's `message` frame.
const TEXT_KEY: &[u8] = br#""text":""#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// Huddle: `send` frames to the lobby with a client_id, acked after commit; `message`
    /// frames back.
    Huddle,
    /// A peer: the payload is the whole text frame, both ways.
    Plain,
}

impl Protocol {
    /// The text frame that publishes `payload`. For Huddle, `client_id` (the stamp without
    /// padding, short enough for Huddle's 64-byte limit whatever the message size) lets the
    /// ack name the message it answers.
    pub fn publish_frame(self, room: Option<&str>, client_id: &str, payload: &str) -> String {
        match self {
            Protocol::Huddle => {
                let room = room.unwrap_or("lobby");
                format!(
                    r#"{{"type":"send","room":"{room}","client_id":"{client_id}","text":"{payload}"}}"#
                )
            }
            Protocol::Plain => payload.to_owned(),
        }
    }

    /// The URL of a connection to `room`: peers take the room from the path.
    pub fn url_for(self, base_url: &str, room: Option<&str>) -> String {
        match (self, room) {
            (Protocol::Plain, Some(room)) => format!("{}/r/{room}", base_url.trim_end_matches('/')),
            _ => base_url.to_owned(),
        }
    }

    /// The frame that puts a connection in `room` (Huddle; peers join by URL).
    pub fn join_frame(self, room: &str) -> Option<String> {
        match self {
            Protocol::Huddle => Some(format!(r#"{{"type":"join","room":"{room}"}}"#)),
            Protocol::Plain => None,
        }
    }

    /// Whether `frame` confirms a join (Huddle's `joined`).
    pub fn is_joined(self, frame: &str) -> bool {
        self == Protocol::Huddle && frame.starts_with(r#"{"type":"joined""#)
    }

    /// The payload of a delivered message, or `None` for any other frame (welcome, ack,
    /// ping). Payloads never contain quotes or escapes, so finding the field is enough: a full
    /// JSON parse would make the client, not the server, the bottleneck.
    ///
    /// This runs once per delivery in processes that share the cores with the server, so
    /// what it costs beyond the peers' (none: their frame is the payload) is taken from
    /// Huddle's share. The key is sought with a vectorised searcher built once, rather than
    /// one built per frame.
    pub fn delivered_payload(self, frame: &str) -> Option<&str> {
        match self {
            Protocol::Plain => Some(frame),
            Protocol::Huddle => {
                if !frame.starts_with(r#"{"type":"message""#) {
                    return None;
                }
                static TEXT_FIELD: LazyLock<Finder<'static>> =
                    LazyLock::new(|| Finder::new(TEXT_KEY));
                let start = TEXT_FIELD.find(frame.as_bytes())? + TEXT_KEY.len();
                let length = memchr::memchr(b'"', &frame.as_bytes()[start..])?;
                frame.get(start..start + length)
            }
        }
    }

    /// The client_id an ack frame answers (Huddle only).
    pub fn acked_payload(self, frame: &str) -> Option<&str> {
        match self {
            Protocol::Plain => None,
            Protocol::Huddle => {
                if !frame.starts_with(r#"{"type":"ack""#) {
                    return None;
                }
                string_field(frame, r#""client_id":""#)
            }
        }
    }
}

fn string_field<'a>(frame: &'a str, key: &str) -> Option<&'a str> {
    let start = frame.find(key)? + key.len();
    let len = frame[start..].find('"')?;
    Some(&frame[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huddle_frames_round_trip_through_the_real_protocol_types() {
        let frame = Protocol::Huddle.publish_frame(None, "p1-0-7-123-", "p1-0-7-123-xx");
        let parsed: huddle::protocol::ClientFrame = serde_json::from_str(&frame).unwrap();
        assert!(format!("{parsed:?}").contains("p1-0-7-123"));
        let delivered = r#"{"type":"message","room":"lobby","seq":3,"id":"x","client_id":"c","user":{"id":"u","name":"N"},"text":"p1-0-7-123","ts":1}"#;
        assert_eq!(
            Protocol::Huddle.delivered_payload(delivered),
            Some("p1-0-7-123")
        );
        assert_eq!(
            Protocol::Huddle.delivered_payload(r#"{"type":"ping","t":1}"#),
            None
        );
        let unterminated = r#"{"type":"message","room":"lobby","text":"p1-0-7-123"#;
        assert_eq!(Protocol::Huddle.delivered_payload(unterminated), None);
        let without_text = r#"{"type":"message","room":"lobby","seq":3}"#;
        assert_eq!(Protocol::Huddle.delivered_payload(without_text), None);
        let ack = r#"{"type":"ack","room":"lobby","client_id":"p1-0-7-123","id":"x","seq":3}"#;
        assert_eq!(Protocol::Huddle.acked_payload(ack), Some("p1-0-7-123"));
    }

    #[test]
    fn plain_frames_are_the_payload() {
        assert_eq!(Protocol::Plain.publish_frame(Some("r"), "id", "abc"), "abc");
        let to_room = Protocol::Huddle.publish_frame(Some("room-3"), "id", "abc");
        assert!(to_room.contains(r#""room":"room-3""#), "{to_room}");
        assert!(Protocol::Huddle.is_joined(r#"{"type":"joined","room":"room-3","head":0}"#));
        assert!(!Protocol::Plain.is_joined(r#"{"type":"joined"}"#));
        assert_eq!(Protocol::Plain.delivered_payload("abc"), Some("abc"));
    }
}
