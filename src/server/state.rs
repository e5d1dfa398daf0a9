//! The state every request handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
        Ok(AppState {
            leptos_options,
            config: Arc::new(config),
            hub,
            connections: Arc::new(Connections::new()),
            store,
            committer,
            auth,
            directory,
            shutdown: Shutdown::new(),
            next_connection: Arc::new(AtomicU64::new(1)),
        })
    }

    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}
