//! The two Redis connections of a node: one that publishes what this node tells the others,
//! one subscribed to what they tell it.
//!
//! Publishing goes through a `ConnectionManager`, which reconnects by itself; what cannot be
//! published yet is held (up to [`HELD_MOST`] events) and sent, in order, once Redis answers
//! again. The subscription is a `PubSub` connection of its own, whose stream ends when the
//! link drops: the subscriber then reconnects (backoff with jitter) and, once subscribed
//! again, asks for a sweep of the store, because whatever was published meanwhile never
//! reached it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::server::broker::envelope::{Envelope, Event, CHANNEL};
use crate::server::hub::fanout::NodeId;
use crate::server::shutdown::Shutdown;

/// Events held while Redis does not answer; past this the oldest are dropped (messages among
/// them are still caught up from the store, by the other nodes' sweeps).
const HELD_MOST: usize = 100_000;
/// Events sent per round trip.
const PIPELINE_MOST: usize = 256;
/// Longest wait between two attempts to reach Redis: a restarted Redis is back in use within
/// this (plus jitter) of answering.
const RETRY_CAP: Duration = Duration::from_secs(2);

/// The queue of what this node publishes. Sending never waits.
#[derive(Clone)]
pub(super) struct Outbound {
    events: mpsc::UnboundedSender<Event>,
}

impl Outbound {
    pub fn send(&self, event: Event) {
        // Fails only once the publisher has stopped (shutdown): nothing is left to tell.
        let _ = self.events.send(event);
    }
}

/// Starts the task that publishes this node's events, and returns their queue.
pub(super) fn start_publisher(
    origin: NodeId,
    connection: ConnectionManager,
    shutdown: &Shutdown,
) -> Outbound {
    let (events, queue) = mpsc::unbounded_channel();
    tokio::spawn(publish(origin, connection, queue, shutdown.clone()));
    Outbound { events }
}

async fn publish(
    origin: NodeId,
    mut connection: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Event>,
    shutdown: Shutdown,
) {
    let mut held: VecDeque<String> = VecDeque::new();
    let mut backoff = Backoff::default();
    loop {
        if held.is_empty() {
            tokio::select! {
                event = queue.recv() => match event {
                    Some(event) => held.push_back(encode(&origin, event)),
                    None => return,
                },
                () = shutdown.begun() => return,
            }
        }
        while let Ok(event) = queue.try_recv() {
            if held.len() == HELD_MOST {
                held.pop_front();
                tracing::warn!(
                    held = HELD_MOST,
                    "Redis unreachable for long: dropping the oldest event held for it"
                );
            }
            held.push_back(encode(&origin, event));
        }
        let count = held.len().min(PIPELINE_MOST);
        let mut pipe = redis::pipe();
        for payload in held.iter().take(count) {
            pipe.publish(CHANNEL, payload).ignore();
        }
        match pipe.query_async::<()>(&mut connection).await {
            Ok(()) => {
                held.drain(..count);
                backoff.reset();
            }
            Err(err) => {
                let delay = backoff.next_delay(fastrand::f64()).min(RETRY_CAP);
                tracing::warn!(error = %err, held = held.len(), ?delay, "cannot publish to Redis; holding events and retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.begun() => return,
                }
            }
        }
    }
}

pub(super) fn encode(origin: &NodeId, event: Event) -> String {
    let envelope = Envelope {
        origin: origin.to_string(),
        event,
    };
    serde_json::to_string(&envelope).expect("an envelope always serializes")
}

/// Whether this node is subscribed to the other nodes' events at the moment: while it is
/// not, it hears nothing from them (what it missed is caught up once it is again).
#[derive(Debug, Default)]
pub(super) struct Subscription(AtomicBool);

impl Subscription {
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
}

/// Starts the task that listens to the other nodes, for as long as the server runs: each
/// envelope goes to `receive`, and `subscribed` is called on every (re)subscription, since
/// whatever was published while this node was not subscribed never reaches it. `state`
/// follows the link.
pub(super) fn start_subscriber(
    client: redis::Client,
    receive: impl Fn(Envelope) + Send + 'static,
    subscribed: impl Fn() + Send + 'static,
    state: Arc<Subscription>,
    shutdown: &Shutdown,
) {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = subscribe(client, receive, subscribed, &state) => {}
            () = shutdown.begun() => {}
        }
    });
}

async fn subscribe(
    client: redis::Client,
    receive: impl Fn(Envelope),
    subscribed: impl Fn(),
    state: &Subscription,
) {
    let mut backoff = Backoff::default();
    loop {
        match connect(&client).await {
            Ok(mut pubsub) => {
                backoff.reset();
                state.set(true);
                subscribed();
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    match serde_json::from_slice::<Envelope>(message.get_payload_bytes()) {
                        Ok(envelope) => receive(envelope),
                        Err(err) => {
                            tracing::warn!(error = %err, "ignoring an unreadable event from Redis")
                        }
                    }
                }
                state.set(false);
                tracing::warn!("lost the Redis subscription; reconnecting");
            }
            Err(err) => tracing::warn!(error = %err, "cannot subscribe to Redis; retrying"),
        }
        tokio::time::sleep(backoff.next_delay(fastrand::f64()).min(RETRY_CAP)).await;
    }
}

async fn connect(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let timeout = Duration::from_secs(3);
    let connecting = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(timeout, connecting)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
}
