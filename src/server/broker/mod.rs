//! The Broker: how a frame reaches everyone it is for, on whichever node they are connected.
//!
//! Everything that fans frames out to more than one connection goes through this trait: a
//! committed batch to its rooms' members, a frame to one person's connections or to
//! everyone's, a person's sockets told to stop, presence (a connection joining or leaving a
//! room, which tells the others when a person comes online or goes offline), someone typing
//! in a room. The hub
//! ([`crate::server::hub`]) is this node's local fan-out; a broker decides which hubs a frame
//! reaches. With one process that is its own ([`LocalBroker`], the default); a broker that
//! spans nodes (Redis) implements the same trait and hands what it receives from other nodes
//! to its local hub.
//!
//! Reads that fan nothing out (a room's head, whether it exists) stay with the hub.

mod catch_up;
mod envelope;
mod local;
mod node_presence;
mod redis_broker;
mod redis_link;

pub use local::LocalBroker;
pub use redis_broker::{RedisBroker, RedisSettings, RedisUnavailable};

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::protocol::User;
use crate::server::hub::fanout::{Joined, NotInMemory};
use crate::server::hub::mailbox::{ConnectionId, Stop, Subscriber};
use crate::server::store::Appended;

/// Carries frames to every connection they are for. Calls never wait on a connection: like
/// the hub, a broker queues and returns.
pub trait Broker: Send + Sync + 'static {
    /// Publishes a committed batch (the committer's outcomes, each room's in seq order) to
    /// every member of their rooms; retries already stored (`Duplicate`) were published the
    /// first time and are skipped. `answered` (sorted) are the local connections whose sends are
    /// answered right after (their own copies need no wake-up of their own). Returns how many
    /// of this node's member queues took a batch, which paces the next commit.
    fn publish_stored(&self, batch: &[Appended], answered: &[ConnectionId]) -> usize;

    /// Queues a JSON frame for every connection of the person `user_id`, or of everyone when
    /// `None`. Returns how many connections of this node took it.
    fn send_to_people(&self, frame: &str, user_id: Option<&str>) -> usize;

    /// Tells every connection of the person `user_id` to close, for `why`. Returns how many
    /// connections of this node were told.
    fn stop_person(&self, user_id: &str, why: Stop) -> usize;

    /// Makes a connection of `user` a member of `room`: it receives every message published
    /// after the head it is told (and who is online there). If it is the person's first
    /// connection in the room, the other members are told they came online. A room whose
    /// head is not in memory is not joined: see [`crate::server::rooms::heads::join`].
    fn join(
        &self,
        room: &str,
        subscriber: Subscriber,
        user: &Arc<User>,
    ) -> Result<Joined, NotInMemory>;

    /// Takes a connection out of `rooms` (on `leave`, and when it ends); where it was the
    /// person's last connection, the others are told they went offline.
    fn leave(&self, rooms: &mut dyn Iterator<Item = &str>, connection: ConnectionId);

    /// `user` is typing in `room`: the room's other members are told.
    fn typing(&self, room: &str, user: &User);

    /// Whether the other nodes can be reached right now, for `/readyz`: `None` for a node of
    /// its own, which has nobody to reach. The answer says why not.
    fn reachability(&self) -> Option<BoxFuture<'_, Result<(), String>>> {
        None
    }
}
