//! Whether history can be written right now, for `/readyz`.
//!
//! A commit that fails (the disk is full, another process holds the database locked) is
//! answered with `store_unavailable`, which clients retry with the same `client_id`; nothing in
//! it was acked. Until a commit succeeds again the node reports itself not ready, so a load
//! balancer sends new people elsewhere rather than to a server that cannot keep what they
//! write. A node that nobody writes to would never find out that the cause has gone, so
//! readiness probes the store with a write of its own while the last commit failed
//! (`server::http::health`).

use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct CommitHealth {
    /// Why the last commit failed; `None` when it succeeded (or none was tried yet).
    failure: Mutex<Option<String>>,
}

impl CommitHealth {
    pub fn failed(&self, why: impl Into<String>) {
        *self.lock() = Some(why.into());
    }

    /// A commit, or a probe, wrote to the store.
    pub fn succeeded(&self) {
        *self.lock() = None;
    }

    /// Why the last commit failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_remembered_until_a_success() {
        let health = CommitHealth::default();
        assert_eq!(health.failure(), None);
        health.failed("database or disk is full");
        health.failed("still full");
        assert_eq!(health.failure().as_deref(), Some("still full"));
        health.succeeded();
        assert_eq!(health.failure(), None);
    }
}
