//! Everything that runs only on the server (feature `ssr`).
//!
//! Data flows one way: a client's frame reaches its connection task ([`connection`]), which hands
//! messages to the committer ([`history`]); the committer stores them ([`store`]) and
//! publishes them through the [`broker`], which reaches the [`hub`] of every node; the hub
//! queues them for the connection tasks, which write them out through [`transport`]. [`http`]
//! serves the pages and APIs, [`rooms`] says who may use which room, [`auth`] who someone is,
//! and [`metrics`] counts what happens, for Prometheus.

pub mod auth;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod history;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod redis_url;
pub mod rooms;
pub mod runtime;
pub mod serve;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transport;
pub mod window_limit;

pub use config::Config;
pub use serve::serve;
pub use state::AppState;
