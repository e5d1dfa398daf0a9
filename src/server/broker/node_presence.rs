//! Presence across nodes: who is online on each node, kept current two ways.
//!
//! Each local coming and going is published as it happens (the hub reports it): other nodes
//! see it within a publication's latency. Each node also keeps its whole presence under a key
//! of its own with a TTL, rewritten every third of the TTL, and reads the other nodes' keys as
//! often. A node that stops cleanly says so (`node_left`), and its people go offline at once.
//! A snapshot corrects what a lost publication left wrong; a key that is gone at two
//! reads in a row means its node is gone (killed, cut off), and its people go offline here.
//! (Once is not enough: a restarted Redis has lost every key, and each node writes its own
//! again within one period.) So a dead node's people go offline within the TTL plus two
//! thirds of it: 25 s with the default TTL of 15 s.
//!
//! Publications and snapshots are ordered by the node's presence version: a snapshot older
//! than a change already applied is not applied (it would undo the newer change).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::mpsc;

use crate::server::broker::envelope::{node_key, Event, NodeSnapshot, CHANNEL, NODES_KEY};
use crate::server::broker::redis_link::{encode, Outbound};
use crate::server::hub::fanout::{Hub, LocalPresence, NodeId};
use crate::server::shutdown::Shutdown;

/// What the presence tasks use of their node.
pub(super) struct PresenceNode {
    pub id: NodeId,
    pub hub: Arc<Hub>,
    pub outbound: Outbound,
    pub presence: Arc<NodePresence>,
}

#[derive(Default)]
pub(super) struct NodePresence {
    /// This node's presence changes so far.
    version: AtomicU64,
    /// The newest version applied from each other node, publications and snapshots alike.
    applied: Mutex<HashMap<NodeId, u64>>,
    /// Nodes whose key was missing at the last read.
    missing: Mutex<BTreeSet<NodeId>>,
}

impl NodePresence {
    /// Starts the tasks that publish local changes and keep the snapshots.
    pub fn start(
        node: Arc<PresenceNode>,
        connection: ConnectionManager,
        changes: mpsc::UnboundedReceiver<LocalPresence>,
        ttl: Duration,
        shutdown: &Shutdown,
    ) {
        tokio::spawn(publish_changes(node.clone(), changes));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = keep_snapshots(&node, connection.clone(), ttl) => {}
                () = shutdown.begun() => {
                    // Leaving on purpose: the others need not wait out the TTL.
                    forget_self(&node, connection).await;
                }
            }
        });
    }

    /// A publication from `node` at `version` is being applied.
    pub fn applied(&self, node: &NodeId, version: u64) {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = applied.entry(node.clone()).or_insert(0);
        *newest = (*newest).max(version);
    }

    /// Whether `node`'s snapshot at `version` is no older than what was applied from it;
    /// if so, it counts as applied.
    fn take_snapshot(&self, node: &NodeId, version: u64) -> bool {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = applied.entry(node.clone()).or_insert(0);
        if version < *newest {
            return false;
        }
        *newest = version;
        true
    }

    pub fn forget(&self, node: &NodeId) {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        applied.remove(node);
    }

    /// `node`'s key was read as missing (`true`) or present: whether it was also missing
    /// the time before, which makes the node gone.
    fn missed(&self, node: &NodeId, now: bool) -> bool {
        let mut missing = self.missing.lock().unwrap_or_else(PoisonError::into_inner);
        if now {
            !missing.insert(node.clone())
        } else {
            missing.remove(node);
            false
        }
    }

    fn known(&self) -> Vec<NodeId> {
        let applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        applied.keys().cloned().collect()
    }
}

async fn publish_changes(
    node: Arc<PresenceNode>,
    mut changes: mpsc::UnboundedReceiver<LocalPresence>,
) {
    while let Some(change) = changes.recv().await {
        let version = node.presence.version.fetch_add(1, Ordering::Relaxed) + 1;
        node.outbound.send(Event::Presence {
            room: change.room.to_string(),
            user: crate::protocol::User::clone(&change.user),
            online: change.online,
            version,
        });
    }
}

async fn keep_snapshots(node: &PresenceNode, mut connection: ConnectionManager, ttl: Duration) {
    let mut ticks = tokio::time::interval(ttl / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(err) = refresh(node, &mut connection, ttl).await {
            tracing::warn!(error = %err, "cannot refresh presence in Redis; retrying at the next tick");
        }
    }
}

/// Writes this node's snapshot, then reads the others' and applies them.
async fn refresh(
    node: &PresenceNode,
    connection: &mut ConnectionManager,
    ttl: Duration,
) -> redis::RedisResult<()> {
    // The version first: the presence read after it is at least that new.
    let version = node.presence.version.load(Ordering::Relaxed);
    let snapshot = NodeSnapshot {
        version,
        rooms: node.hub.local_presence(),
    };
    let json = serde_json::to_string(&snapshot).expect("a snapshot always serializes");
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    redis::pipe()
        .cmd("SET")
        .arg(node_key(&node.id))
        .arg(json)
        .arg("PX")
        .arg(ttl_ms)
        .ignore()
        .sadd(NODES_KEY, &*node.id)
        .ignore()
        .query_async::<()>(connection)
        .await?;

    let listed: BTreeSet<String> = connection.smembers(NODES_KEY).await?;
    let others: BTreeSet<NodeId> = listed
        .iter()
        .map(|id| NodeId::from(id.as_str()))
        .chain(node.presence.known())
        .filter(|id| *id != node.id)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = others.iter().map(|id| node_key(id)).collect();
    let snapshots: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(connection)
        .await?;
    for (other, snapshot) in others.iter().zip(snapshots) {
        match snapshot.map(|json| serde_json::from_str::<NodeSnapshot>(&json)) {
            Some(Ok(snapshot)) => {
                node.presence.missed(other, false);
                if node.presence.take_snapshot(other, snapshot.version) {
                    node.hub.replace_remote(other, &snapshot.rooms);
                }
            }
            Some(Err(err)) => {
                tracing::warn!(node = %other, error = %err, "ignoring an unreadable presence snapshot");
            }
            None if !node.presence.missed(other, true) => {}
            None => {
                node.presence.missed(other, false);
                tracing::info!(node = %other, "node gone from Redis: its people are offline");
                node.hub.replace_remote(other, &Default::default());
                node.presence.forget(other);
                let _: () = connection.srem(NODES_KEY, &**other).await?;
            }
        }
    }
    Ok(())
}

async fn forget_self(node: &PresenceNode, mut connection: ConnectionManager) {
    let left = encode(&node.id, Event::NodeLeft);
    let forgotten = redis::pipe()
        .del(node_key(&node.id))
        .ignore()
        .srem(NODES_KEY, &*node.id)
        .ignore()
        .publish(CHANNEL, left)
        .ignore()
        .query_async::<()>(&mut connection)
        .await;
    if let Err(err) = forgotten {
        tracing::warn!(error = %err, "cannot remove this node's presence from Redis; it expires");
    }
}
