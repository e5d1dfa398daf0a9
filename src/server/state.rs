//! The state every request handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::server::auth::Auth;
use crate::server::committer::Committer;
use crate::server::config::Config;
use crate::server::connections::Connections;
use crate::server::directory::Directory;
use crate::server::hub::Hub;
use crate::server::mailbox::ConnectionId;
use crate::server::shutdown::Shutdown;
use crate::server::socket_context::SocketContext;
use crate::server::store::{SqliteStore, Store, StoreError};

/// One cheap handle on everything shared: cloning it clones a few `Arc`s.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    /// Every live socket, to reach them all at once (shutdown).
    pub connections: Arc<Connections>,
    /// Message history: read directly, written only through `committer`.
    pub store: Arc<dyn Store>,
    pub committer: Committer,
    /// Sessions, accounts and cookies.
    pub auth: Arc<Auth>,
    /// Rooms' kinds, who may use them, and people's room lists.
    pub directory: Arc<Directory>,
    pub shutdown: Shutdown,
    /// The same handles and the socket settings, as every socket task holds them.
    pub sockets: Arc<SocketContext>,
    /// Source of connection ids; an atomic so upgrades never contend on a lock.
    next_connection: Arc<AtomicU64>,
}

impl AppState {
    /// Opens the history database and starts the hub where the history left off.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StoreError> {
        let sqlite = SqliteStore::open(&config.database).await?;
        let pool = sqlite.pool();
        let store: Arc<dyn Store> = Arc::new(sqlite);
        let heads = store.heads().await?;
        let hub = Arc::new(Hub::with_presence_limit(&heads, config.presence_limit));
        let auth = Arc::new(Auth::open(pool.clone(), &config).await?);
        let directory = Arc::new(Directory::new(pool));
        let (committer, _writer) = Committer::start(store.clone(), hub.clone())
            .map_err(|err| StoreError::Writer(format!("cannot start the committer: {err}")))?;
        let connections = Arc::new(Connections::new());
        let shutdown = Shutdown::new();
        let sockets = Arc::new(SocketContext {
            hub: hub.clone(),
            auth: auth.clone(),
            directory: directory.clone(),
            connections: connections.clone(),
            store: store.clone(),
            committer: committer.clone(),
            shutdown: shutdown.clone(),
            queue_capacity: config.queue_capacity,
            resume_limit: config.resume_limit,
            heartbeat_interval: config.heartbeat_interval(),
            heartbeat_timeout: config.heartbeat_timeout(),
            reconnect_spread: Duration::from_millis(config.reconnect_spread_ms),
            rate_per_sec: config.rate_limit_per_sec,
            rate_burst: config.rate_limit_burst,
        });
        Ok(AppState {
            leptos_options,
            config: Arc::new(config),
            hub,
            connections,
            store,
            committer,
            auth,
            directory,
            shutdown,
            sockets,
            next_connection: Arc::new(AtomicU64::new(1)),
        })
    }

    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}
