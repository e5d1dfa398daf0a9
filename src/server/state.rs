//! The state every request handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::server::config::Config;
use crate::server::hub::Hub;
use crate::server::mailbox::ConnectionId;
use crate::server::shutdown::Shutdown;

/// One cheap handle on everything shared: cloning it clones a few `Arc`s.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub shutdown: Shutdown,
    /// Source of connection ids; an atomic so upgrades never contend on a lock.
    next_connection: Arc<AtomicU64>,
}

impl AppState {
    pub fn new(config: Config, leptos_options: LeptosOptions) -> Self {
        let hub = Hub::new(config.rooms(), config.recent_per_room);
        AppState {
            leptos_options,
            config: Arc::new(config),
            hub: Arc::new(hub),
            shutdown: Shutdown::new(),
            next_connection: Arc::new(AtomicU64::new(1)),
        }
    }

    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}
