//! What every socket task shares, built once when the server starts.
//!
//! Each connection holds one pointer to it instead of its own copy of every handle and
//! setting: at tens of thousands of idle connections, those copies were a few percent of the
//! server's memory.

use std::sync::Arc;
use std::time::Duration;

use crate::server::auth::Auth;
use crate::server::committer::Committer;
use crate::server::connections::Connections;
use crate::server::directory::Directory;
use crate::server::hub::Hub;
use crate::server::shutdown::Shutdown;
use crate::server::store::Store;

pub struct SocketContext {
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    pub directory: Arc<Directory>,
    pub connections: Arc<Connections>,
    pub store: Arc<dyn Store>,
    pub committer: Committer,
    pub shutdown: Shutdown,
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
}
