//! What a node counts, for Prometheus: one registry per server (`prometheus-client`), rendered
//! as text on the metrics listener (src/server/http/metrics_listener.rs).
//!
//! `prometheus-client` rather than the `metrics` facade: its registry is a value, not a
//! process-wide recorder, so every server in a process (the tests run dozens) counts its own,
//! and its counters are plain atomics with no lookup by name on the hot path.
//!
//! No label names a room or a person: their number has no bound, and every label value is a
//! time series of its own in Prometheus. Labels here take a handful of fixed values.
//!
//! What each recording costs on the paths that carry every message: nothing per member of a
//! room (the hub adds a batch's frames and deliveries once for all the members that took it),
//! one atomic add per frame read, per committed batch and per write of acks, and a histogram
//! observation (a short lock, uncontended) per commit and per ack.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Every figure a node keeps, with the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub connections_open: Gauge,
    pub rooms_in_memory: Gauge,
    pub upgrades: Family<UpgradeLabels, Counter>,
    pub frames_received: Counter,
    pub frames_sent: Counter,
    pub deliveries: Counter,
    pub messages_stored: Counter,
    pub commit_batch_messages: Histogram,
    pub commit_seconds: Histogram,
    pub ack_seconds: Histogram,
    pub closes: Family<CloseLabels, Counter>,
    pub rate_limited_frames: Counter,
    pub history_queries: Family<HistoryLabels, Counter>,
}

/// How an upgrade request to `/ws` was answered.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Upgrade {
    Accepted,
    ShuttingDown,
    BadSince,
    ForeignOrigin,
    LoginRequired,
    SessionsUnavailable,
    PersonCap,
    AddressCap,
}

impl Upgrade {
    fn as_str(self) -> &'static str {
        match self {
            Upgrade::Accepted => "accepted",
            Upgrade::ShuttingDown => "shutting_down",
            Upgrade::BadSince => "bad_since",
            Upgrade::ForeignOrigin => "foreign_origin",
            Upgrade::LoginRequired => "login_required",
            Upgrade::SessionsUnavailable => "sessions_unavailable",
            Upgrade::PersonCap => "person_cap",
            Upgrade::AddressCap => "address_cap",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpgradeLabels {
    outcome: Upgrade,
}

/// How a connection ended: the close code the server sent (a fixed set, its own), or that
/// the client closed first, or that the transport went without a close.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CloseCode {
    Server(u16),
    ByClient,
    NoClose,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    code: CloseCode,
}

/// Which read of history was made: a page (the room page, the history API, the page's
/// "older" button) or a range (catching a client or a node up).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum HistoryQuery {
    Page,
    Range,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HistoryLabels {
    kind: HistoryQuery,
}

impl EncodeLabelValue for Upgrade {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for CloseCode {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self {
            CloseCode::Server(code) => write!(encoder, "{code}"),
            CloseCode::ByClient => encoder.write_str("by_client"),
            CloseCode::NoClose => encoder.write_str("none"),
        }
    }
}

impl EncodeLabelValue for HistoryQuery {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            HistoryQuery::Page => "page",
            HistoryQuery::Range => "range",
        })
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("huddle");
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "WebSocket connections open on this node",
            connections_open.clone(),
        );
        let rooms_in_memory = Gauge::default();
        registry.register(
            "rooms_in_memory",
            "Rooms the hub of this node keeps in memory (counted at each sweep of idle rooms)",
            rooms_in_memory.clone(),
        );
        let upgrades = Family::<UpgradeLabels, Counter>::default();
        registry.register(
            "upgrades",
            "Upgrade requests to /ws, by outcome: accepted, or the reason for the refusal",
            upgrades.clone(),
        );
        let frames_received = Counter::default();
        registry.register(
            "frames_received",
            "Text and binary WebSocket messages read from clients",
            frames_received.clone(),
        );
        let frames_sent = Counter::default();
        registry.register(
            "frames_sent",
            "Frames queued or written for clients: room messages, presence and typing (counted \
             as the hub queues them), acks, pings, answers and catch-up replays",
            frames_sent.clone(),
        );
        let deliveries = Counter::default();
        registry.register(
            "deliveries",
            "Chat messages queued for clients (one per message per member) and replayed to \
             clients catching up",
            deliveries.clone(),
        );
        let messages_stored = Counter::default();
        registry.register(
            "messages_stored",
            "Messages committed to the store by this node (retries of stored ones not counted)",
            messages_stored.clone(),
        );
        // 1 to 4,096 messages per commit, doubling.
        let commit_batch_messages = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register(
            "commit_batch_messages",
            "Messages per committed batch (group commit)",
            commit_batch_messages.clone(),
        );
        // 100 µs to about 3 s, doubling: a commit on a fast disk to one that hangs.
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "commit_seconds",
            "Time to commit one batch, durable when it ends",
            commit_seconds.clone(),
        );
        let ack_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "ack_seconds",
            "From a send read off a socket to its answer (ack or error) being ready",
            ack_seconds.clone(),
        );
        let closes = Family::<CloseLabels, Counter>::default();
        registry.register(
            "closes",
            "Connections ended, by the close code the server sent (4008: too slow, 4009: no \
             answer to pings, 1012: restart), by_client, or none (the transport vanished)",
            closes.clone(),
        );
        let rate_limited_frames = Counter::default();
        registry.register(
            "rate_limited_frames",
            "Client frames refused with rate_limited",
            rate_limited_frames.clone(),
        );
        let history_queries = Family::<HistoryLabels, Counter>::default();
        registry.register(
            "history_queries",
            "Reads of stored history: pages, and ranges to catch up",
            history_queries.clone(),
        );
        Metrics {
            registry,
            connections_open,
            rooms_in_memory,
            upgrades,
            frames_received,
            frames_sent,
            deliveries,
            messages_stored,
            commit_batch_messages,
            commit_seconds,
            ack_seconds,
            closes,
            rate_limited_frames,
            history_queries,
        }
    }

    pub fn upgrade(&self, outcome: Upgrade) {
        self.upgrades
            .get_or_create(&UpgradeLabels { outcome })
            .inc();
    }

    pub fn closed(&self, code: CloseCode) {
        self.closes.get_or_create(&CloseLabels { code }).inc();
    }

    pub fn history_query(&self, kind: HistoryQuery) {
        self.history_queries
            .get_or_create(&HistoryLabels { kind })
            .inc();
    }

    /// Everything, in the OpenMetrics text format Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
