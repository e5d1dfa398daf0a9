//! Everything that runs only on the server (feature `ssr`).

pub mod auth;
pub mod cli;
pub mod clock;
pub mod committer;
pub mod config;
pub mod connections;
pub mod directory;
pub mod doorbell;
pub mod echo;
pub mod heartbeat;
pub mod history_api;
pub mod hub;
pub mod inbound;
pub mod listener;
pub mod mailbox;
pub mod origin;
pub mod pages;
pub mod pending_acks;
pub mod push_api;
pub mod rate_limit;
pub mod room_cursors;
pub mod router;
pub mod serve;
pub mod shutdown;
pub mod socket_context;
pub mod socket_policy;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod ws;

pub use config::Config;
pub use serve::serve;
pub use state::AppState;
