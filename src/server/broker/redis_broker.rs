//! The broker for several nodes: each node fans frames out to its own connections, as the
//! local broker does, and tells every other node through Redis pub/sub, which hands them to
//! its hub and registry ([`super::redis_link`]).
//!
//! Redis pub/sub is at most once: a message published while a node's subscription is down
//! never reaches it. Nothing that must not be lost depends on it. Messages are in the store
//! (PostgreSQL, shared) before anyone publishes them; a node that sees a room's seq jump, that
//! resubscribes, or whose periodic sweep finds the store ahead of what it published, reads the
//! missing messages from the store before delivering anything later ([`super::catch_up`]).
//! Presence is sent as it changes and also kept under a key per node with a TTL, which
//! corrects lost changes and lets a dead node's people go offline ([`super::node_presence`]).
//! What is left is ephemeral (typing), or per-person frames, which the publisher holds and
//! resends while Redis is away.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::protocol::{ChatMessage, User};
use crate::server::broker::catch_up::CatchUp;
use crate::server::broker::envelope::{Envelope, Event};
use crate::server::broker::node_presence::{NodePresence, PresenceNode};
use crate::server::broker::redis_link::{self, Outbound, Subscription};
use crate::server::broker::Broker;
use crate::server::hub::fanout::{Hub, Joined, NodeId, NotInMemory};
use crate::server::hub::mailbox::{ConnectionId, Stop, Subscriber};
use crate::server::hub::registry::ConnectionRegistry;
use crate::server::redis_url::RedisUrl;
use crate::server::shutdown::Shutdown;
use crate::server::store::{Appended, Store};

/// How long the first connection to Redis may take before the server gives up starting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `/readyz` waits for Redis to answer a PING before calling it unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the Redis broker needs from the node it runs in.
pub struct RedisSettings {
    pub url: RedisUrl,
    /// How long a node's presence key lives unrefreshed. It is refreshed three times per TTL,
    /// and the store is swept for missed messages as often.
    pub presence_ttl: Duration,
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach Redis at {url}: {reason}")]
pub struct RedisUnavailable {
    /// Password masked.
    pub url: String,
    pub reason: String,
}

/// This node's part in the cluster, shared by the broker and its tasks.
struct Node {
    pub id: NodeId,
    pub hub: Arc<Hub>,
    pub registry: Arc<ConnectionRegistry>,
    pub outbound: Outbound,
    pub catch_up: CatchUp,
    pub presence: Arc<NodePresence>,
}

impl Node {
    /// Hands what another node published to this node's hub and connections.
    fn receive(&self, envelope: Envelope) {
        if *envelope.origin == *self.id {
            return; // Delivered here when it was published.
        }
        let origin: NodeId = Arc::from(envelope.origin.as_str());
        match envelope.event {
            Event::Stored { messages } => {
                let mut gaps = Vec::new();
                self.hub.publish_in_order(&messages, &[], &mut gaps);
                self.catch_up.fill(gaps);
            }
            Event::Presence {
                room,
                user,
                online,
                version,
            } => {
                self.presence.applied(&origin, version);
                self.hub.remote_presence(&origin, &room, &user, online);
            }
            Event::Typing { room, user } => self.hub.typing(&room, &user),
            Event::People { frame, user_id } => {
                self.registry.send(&frame, user_id.as_deref());
            }
            Event::Stop { user_id, why } => {
                self.registry.stop_user(&user_id, why);
            }
            Event::NodeLeft => {
                tracing::info!(node = %origin, "node left: its people are offline");
                self.hub.replace_remote(&origin, &Default::default());
                self.presence.forget(&origin);
            }
        }
    }
}

pub struct RedisBroker {
    node: Arc<Node>,
    /// For `/readyz`: a link of its own to ask Redis whether it answers, and the state of the
    /// subscription.
    probe: ConnectionManager,
    subscription: Arc<Subscription>,
}

impl RedisBroker {
    /// Connects to Redis (failing if it does not answer) and starts the tasks that publish,
    /// listen, catch up from `store`, and keep presence; they end when `shutdown` begins.
    pub async fn start(
        settings: RedisSettings,
        hub: Arc<Hub>,
        registry: Arc<ConnectionRegistry>,
        store: Arc<dyn Store>,
        shutdown: &Shutdown,
    ) -> Result<Self, RedisUnavailable> {
        let unavailable = |reason: String| RedisUnavailable {
            url: settings.url.to_string(),
            reason,
        };
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|err| unavailable(format!("not a Redis URL: {err}")))?;
        let config = || {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(CONNECT_TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(2))
        };
        let mut connection: ConnectionManager = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            client.get_connection_manager_with_config(config()),
        )
        .await
        .map_err(|_| unavailable("no answer".into()))?
        .map_err(|err| unavailable(err.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|err| unavailable(err.to_string()))?;

        // A clone shares the link: a probe waiting behind published events would measure
        // them, not Redis. One connection more per node is cheap.
        let probe = client
            .get_connection_manager_with_config(config())
            .await
            .map_err(|err| unavailable(err.to_string()))?;
        let id: NodeId = Arc::from(uuid::Uuid::new_v4().simple().to_string().as_str());
        let sweep_every = settings.presence_ttl / 3;
        let outbound = redis_link::start_publisher(id.clone(), connection.clone(), shutdown);
        let node = Arc::new(Node {
            id: id.clone(),
            hub: hub.clone(),
            registry,
            outbound: outbound.clone(),
            catch_up: CatchUp::start(hub.clone(), store, sweep_every, shutdown),
            presence: Arc::default(),
        });
        let changes = hub
            .observe_presence()
            .expect("one broker per hub: nobody else observes its presence");
        let presence = PresenceNode {
            id: id.clone(),
            hub,
            outbound,
            presence: node.presence.clone(),
        };
        NodePresence::start(
            Arc::new(presence),
            connection,
            changes,
            settings.presence_ttl,
            shutdown,
        );
        let (receiving, subscribing) = (node.clone(), node.clone());
        let subscription = Arc::new(Subscription::default());
        redis_link::start_subscriber(
            client,
            move |envelope| receiving.receive(envelope),
            move || subscribing.catch_up.sweep(),
            subscription.clone(),
            shutdown,
        );
        tracing::info!(node = %id, redis = %settings.url, "sharing rooms through Redis");
        Ok(RedisBroker {
            node,
            probe,
            subscription,
        })
    }
}

impl Broker for RedisBroker {
    fn publish_stored(&self, batch: &[Appended], answered: &[ConnectionId]) -> usize {
        let stored: Vec<&ChatMessage> = batch.iter().filter_map(Appended::stored).collect();
        let mut gaps = Vec::new();
        let queued = self
            .node
            .hub
            .publish_in_order(stored.iter().copied(), answered, &mut gaps);
        self.node.catch_up.fill(gaps);
        // One envelope per room, its messages in seq order as the committer gave them.
        let mut rooms: Vec<(&str, Vec<ChatMessage>)> = Vec::new();
        for message in stored {
            match rooms.iter_mut().find(|(room, _)| *room == message.room) {
                Some((_, messages)) => messages.push(message.clone()),
                None => rooms.push((&message.room, vec![message.clone()])),
            }
        }
        for (_, messages) in rooms {
            self.node.outbound.send(Event::Stored { messages });
        }
        queued
    }

    fn send_to_people(&self, frame: &str, user_id: Option<&str>) -> usize {
        self.node.outbound.send(Event::People {
            frame: frame.to_owned(),
            user_id: user_id.map(str::to_owned),
        });
        self.node.registry.send(frame, user_id)
    }

    fn stop_person(&self, user_id: &str, why: Stop) -> usize {
        self.node.outbound.send(Event::Stop {
            user_id: user_id.to_owned(),
            why,
        });
        self.node.registry.stop_user(user_id, why)
    }

    fn join(
        &self,
        room: &str,
        subscriber: Subscriber,
        user: &Arc<User>,
    ) -> Result<Joined, NotInMemory> {
        // The hub reports the arrival to the presence task, which tells the other nodes.
        self.node.hub.join(room, subscriber, user)
    }

    fn leave(&self, rooms: &mut dyn Iterator<Item = &str>, connection: ConnectionId) {
        self.node.hub.leave(rooms, connection);
    }

    fn typing(&self, room: &str, user: &User) {
        self.node.hub.typing(room, user);
        self.node.outbound.send(Event::Typing {
            room: room.to_owned(),
            user: user.clone(),
        });
    }

    fn reachability(&self) -> Option<BoxFuture<'_, Result<(), String>>> {
        Some(Box::pin(async move {
            if !self.subscription.is_up() {
                return Err("not subscribed to the other nodes' events: reconnecting".into());
            }
            let mut probe = self.probe.clone();
            let command = redis::cmd("PING");
            let ping = command.query_async::<String>(&mut probe);
            match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(format!("Redis does not answer: {err}")),
                Err(_) => Err(format!("Redis does not answer within {PROBE_TIMEOUT:?}")),
            }
        }))
    }
}
