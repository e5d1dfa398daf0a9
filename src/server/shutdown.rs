//! Graceful shutdown for upgraded sockets.
//!
//! axum's graceful shutdown stops accepting and drains HTTP connections, but an upgraded
//! WebSocket is no longer an HTTP connection to it: without help the process would either
//! wait for sockets forever or drop them without a close frame. Every connection task holds a
//! [`SocketGuard`]; on shutdown each one sends the acks it still owes, closes with code 1012
//! (service restart) and a `retry_after_ms`, and finishes its handshake; the server waits
//! (bounded) until all guards are gone.

use tokio_util::sync::CancellationToken;
use tokio_util::task::{task_tracker::TaskTrackerToken, TaskTracker};

#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// Cancelled once when shutdown begins; connection tasks select on it.
    begun: CancellationToken,
    /// Counts live connection tasks.
    sockets: TaskTracker,
}

/// Held by a connection task for as long as it runs.
pub type SocketGuard = TaskTrackerToken;

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn begin(&self) {
        self.begun.cancel();
    }

    pub fn has_begun(&self) -> bool {
        self.begun.is_cancelled()
    }

    /// Resolves once shutdown has begun.
    pub async fn begun(&self) {
        self.begun.cancelled().await
    }

    pub fn guard(&self) -> SocketGuard {
        self.sockets.token()
    }

    /// Resolves once every connection task has ended. Callers bound it with a timeout.
    pub async fn sockets_closed(&self) {
        self.sockets.close();
        self.sockets.wait().await
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let ctrl_c = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = sigterm.recv() => {}
            }
        }
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C will stop the server");
            let _ = ctrl_c.await;
        }
    }
}
