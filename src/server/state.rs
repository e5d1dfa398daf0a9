//! The state every request handler and connection task shares: one [`Core`] behind one cheap
//! handle.

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::protocol::LOBBY;
use crate::server::auth::Auth;
use crate::server::broker::{Broker, LocalBroker, RedisBroker, RedisSettings, RedisUnavailable};
use crate::server::config::Config;
use crate::server::history::committer::Committer;
use crate::server::hub::fanout::Hub;
use crate::server::hub::mailbox::ConnectionId;
use crate::server::hub::registry::ConnectionRegistry;
use crate::server::hub::residency::spawn_room_sweeper;
use crate::server::hub::socket_quota::SocketQuota;
use crate::server::metrics::Metrics;
use crate::server::rooms::directory::Directory;
use crate::server::shutdown::Shutdown;
use crate::server::store::{self, Database, MeteredStore, Store, StoreError, TokenStore};

/// What axum hands every handler: the site's options for Leptos, and the core. Cloning it
/// clones two pointers. It dereferences to the [`Core`], so `state.hub` is the core's hub.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub core: Arc<Core>,
}

impl Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

/// Everything the server shares, built once when it starts. Each connection task holds one
/// pointer to it instead of its own copy of every handle and setting: at tens of thousands
/// of idle connections, those copies were a few percent of the server's memory.
pub struct Core {
    pub config: Config,
    /// This node's rooms and their members: local fan-out.
    pub hub: Arc<Hub>,
    /// This node's live connections by person, to reach them all at once (shutdown, logout).
    pub registry: Arc<ConnectionRegistry>,
    /// Sockets open or opening on this node per person with a session
    /// (`--max-sockets-per-user`) and per client address (`--max-sockets-per-address`).
    pub sockets_per_person: Arc<SocketQuota<Arc<str>>>,
    pub sockets_per_address: Arc<SocketQuota<IpAddr>>,
    /// Carries frames to everyone they are for, on whichever node (the local one by default).
    pub broker: Arc<dyn Broker>,
    /// Message history: read directly, written only through `committer`.
    pub store: Arc<dyn Store>,
    /// API tokens, for the push API.
    pub tokens: Arc<dyn TokenStore>,
    pub committer: Committer,
    /// Sessions, accounts and cookies.
    pub auth: Arc<Auth>,
    /// Rooms' kinds, who may use them, and people's room lists.
    pub directory: Arc<Directory>,
    pub shutdown: Shutdown,
    /// The settings every connection task reads, converted once.
    pub sockets: SocketSettings,
    /// What this node counts, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Source of connection ids; an atomic so upgrades never contend on a lock.
    next_connection: AtomicU64,
}

/// The per-connection settings, from [`Config`].
pub struct SocketSettings {
    /// Frames a connection's queue holds before it is evicted as too slow.
    pub queue_capacity: usize,
    /// Most missed messages replayed on a join; past it the client is told to resync.
    pub resume_limit: u64,
    pub heartbeat_interval: Duration,
    /// How long a client has to answer a ping, and how long one write to it may block.
    pub heartbeat_timeout: Duration,
    /// Clients told to reconnect at shutdown pick a delay below this.
    pub reconnect_spread: Duration,
    /// The client's frame rate limit: steady rate (0: no limit) and burst.
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    /// Most rooms one connection may be in at once, the lobby included.
    pub max_rooms_per_connection: usize,
}

impl SocketSettings {
    fn from_config(config: &Config) -> Self {
        SocketSettings {
            queue_capacity: config.queue_capacity,
            resume_limit: config.resume_limit,
            heartbeat_interval: config.heartbeat_interval(),
            heartbeat_timeout: config.heartbeat_timeout(),
            reconnect_spread: Duration::from_millis(config.reconnect_spread_ms),
            rate_per_sec: config.rate_limit_per_sec,
            rate_burst: config.rate_limit_burst,
            max_rooms_per_connection: config.max_rooms_per_connection,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the history database {database}: {error}")]
    Store {
        database: Database,
        error: StoreError,
    },
    #[error(transparent)]
    Redis(#[from] RedisUnavailable),
    #[error("--redis shares rooms between nodes, so they must share their history too: give every node the same PostgreSQL --database (postgres://…), not {database}")]
    RedisNeedsPostgres { database: Database },
}

impl AppState {
    /// Opens the history database, starts the hub where the history left off, and joins the
    /// other nodes if `config.redis` names a Redis server.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StartError> {
        if config.redis.is_some() && !matches!(config.database, Database::Postgres(_)) {
            return Err(StartError::RedisNeedsPostgres {
                database: config.database.clone(),
            });
        }
        let opening = |error: StoreError| StartError::Store {
            database: config.database.clone(),
            error,
        };
        let stores = store::open(&config.database).await.map_err(opening)?;
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(stores.messages, metrics.clone()));
        // Rooms come into memory as they are used (see `hub::residency`); only the lobby,
        // which every connection joins, is there from the start.
        let lobby = (LOBBY.to_owned(), store.head(LOBBY).await.map_err(opening)?);
        let hub = Arc::new(
            Hub::with_presence_limit(&[lobby], config.presence_limit)
                .with_room_limit(config.max_rooms_in_memory),
        );
        hub.count_into(metrics.frames_sent.clone(), metrics.deliveries.clone());
        spawn_room_sweeper(&hub, config.room_idle(), metrics.rooms_in_memory.clone());
        let registry = Arc::new(ConnectionRegistry::new());
        let shutdown = Shutdown::new();
        let broker: Arc<dyn Broker> = match &config.redis {
            None => Arc::new(LocalBroker::new(hub.clone(), registry.clone())),
            Some(url) => {
                let settings = RedisSettings {
                    url: url.clone(),
                    presence_ttl: Duration::from_millis(config.redis_presence_ttl_ms),
                };
                let broker = RedisBroker::start(
                    settings,
                    hub.clone(),
                    registry.clone(),
                    store.clone(),
                    &shutdown,
                )
                .await?;
                Arc::new(broker)
            }
        };
        let auth = Arc::new(
            Auth::open(stores.identities, &config)
                .await
                .map_err(opening)?,
        );
        crate::server::auth::spawn_idle_guest_sweeper(&auth);
        let directory = Arc::new(Directory::new(stores.rooms, config.new_rooms_per_minute));
        let (committer, _writer) =
            Committer::start(store.clone(), broker.clone()).map_err(|err| {
                opening(StoreError::Writer(format!(
                    "cannot start the committer: {err}"
                )))
            })?;
        let core = Core {
            sockets: SocketSettings::from_config(&config),
            config,
            hub,
            registry,
            sockets_per_person: SocketQuota::new(),
            sockets_per_address: SocketQuota::new(),
            broker,
            store,
            tokens: stores.tokens,
            committer,
            auth,
            directory,
            shutdown,
            metrics,
            next_connection: AtomicU64::new(1),
        };
        Ok(AppState {
            leptos_options,
            core: Arc::new(core),
        })
    }
}

impl Core {
    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}
