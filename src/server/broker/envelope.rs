//! What nodes tell each other through Redis: one JSON envelope per event on one channel, each
//! naming the node it came from (a node skips its own, which it delivered already).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::{ChatMessage, User};
use crate::server::hub::mailbox::Stop;

/// The pub/sub channel every node publishes to and listens on.
pub const CHANNEL: &str = "huddle:events";

/// The set of nodes that have announced themselves; each one's presence is under
/// [`node_key`].
pub const NODES_KEY: &str = "huddle:nodes";

/// Where `node` keeps its [`NodeSnapshot`], with a TTL it refreshes.
pub fn node_key(node: &str) -> String {
    format!("huddle:node:{node}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The node that published it.
    pub origin: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Messages of one room a node committed, in seq order.
    Stored {
        messages: Vec<ChatMessage>,
    },
    /// A person's first connection on `origin` joined `room`, or their last one there left.
    /// `version` is the origin's presence version after the change (see [`NodeSnapshot`]).
    Presence {
        room: String,
        user: User,
        online: bool,
        version: u64,
    },
    Typing {
        room: String,
        user: User,
    },
    /// A frame for every connection of `user_id`, or of everyone.
    People {
        frame: String,
        user_id: Option<String>,
    },
    /// Every connection of `user_id` is to close.
    Stop {
        user_id: String,
        why: Stop,
    },
    /// The origin is shutting down: its people are offline there now, without waiting for
    /// its presence key to be missed.
    NodeLeft,
}

/// Who is online on one node, room by room, as it stores it under its key. `version` counts
/// the node's presence changes: a snapshot older than a change already applied from that
/// node's messages is ignored, so a slow read never undoes a newer arrival.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    pub version: u64,
    pub rooms: BTreeMap<String, Vec<User>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_as_one_flat_json_object() {
        let envelope = Envelope {
            origin: "n1".into(),
            event: Event::Stop {
                user_id: "u-ada".into(),
                why: Stop::LoggedOut,
            },
        };
        let json = serde_json::to_string(&envelope).unwrap();
        assert_eq!(
            json,
            r#"{"origin":"n1","kind":"stop","user_id":"u-ada","why":"logged_out"}"#
        );
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
    }

    #[test]
    fn an_unknown_kind_is_an_error_not_a_guess() {
        let err = serde_json::from_str::<Envelope>(r#"{"origin":"n1","kind":"nope"}"#);
        assert!(err.is_err());
    }
}
