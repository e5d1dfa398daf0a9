//! The two wire protocols the load generator speaks: Huddle's, and the plain broadcast
//! protocol of the peers (every text frame goes verbatim to everyone).
//!
//! Payloads are the same bytes in both, so the only difference measured is the server.

use clap::ValueEnum;

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
    pub fn publish_frame(self, client_id: &str, payload: &str) -> String {
        match self {
            Protocol::Huddle => format!(
                r#"{{"type":"send","room":"lobby","client_id":"{client_id}","text":"{payload}"}}"#
            ),
            Protocol::Plain => payload.to_owned(),
        }
    }

    /// The payload of a delivered message, or `None` for any other frame (welcome, ack,
    /// ping). Payloads never contain quotes or escapes, so finding the field is enough: a full
    /// JSON parse would make the client, not the server, the bottleneck.
    pub fn delivered_payload(self, frame: &str) -> Option<&str> {
        match self {
            Protocol::Plain => Some(frame),
            Protocol::Huddle => {
                if !frame.starts_with(r#"{"type":"message""#) {
                    return None;
                }
                string_field(frame, r#""text":""#)
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
        let frame = Protocol::Huddle.publish_frame("p1-0-7-123-", "p1-0-7-123-xx");
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
        let ack = r#"{"type":"ack","room":"lobby","client_id":"p1-0-7-123","id":"x","seq":3}"#;
        assert_eq!(Protocol::Huddle.acked_payload(ack), Some("p1-0-7-123"));
    }

    #[test]
    fn plain_frames_are_the_payload() {
        assert_eq!(Protocol::Plain.publish_frame("id", "abc"), "abc");
        assert_eq!(Protocol::Plain.delivered_payload("abc"), Some("abc"));
    }
}
