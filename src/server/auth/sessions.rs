//! Browser sessions: a row per signed-in browser (guest or account).
//!
//! Every page render and socket upgrade of a person with a cookie looks the session up in the
//! table (an indexed read, well under a millisecond). Nothing is cached: a cache would keep a
//! logged-out session alive on every other node sharing the database, and a lookup racing the
//! logout could put it back.
//!
//! Guest sessions expire: one unused for `--guest-idle-days` stops working at its next use and
//! is deleted then, or by the hourly sweep ([`Sessions::sweep_idle_guests`]) if it never comes
//! back, so the table holds the guests of the last month rather than of all time. Use is
//! recorded at most once per [`TOUCH_EVERY`], so a busy session costs one write an hour, not
//! one per page. Account sessions do not expire by idleness: logging out ends them.

use std::sync::Arc;
use std::time::Duration;

use super::signing::random_token;
use super::{Identity, IdentityKind};
use crate::protocol::User;
use crate::server::clock::unix_millis;
use crate::server::store::{IdentityStore, StoreError};

/// How stale a session's last-use time may get before a use rewrites it.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60 * 60);

pub struct Sessions {
    identities: Arc<dyn IdentityStore>,
    /// How long a guest session may go unused; `None`: for ever.
    guest_idle: Option<Duration>,
}

impl Sessions {
    pub fn new(identities: Arc<dyn IdentityStore>, guest_idle: Option<Duration>) -> Self {
        Sessions {
            identities,
            guest_idle,
        }
    }

    /// Starts a session for `user`; returns its id (for the cookie).
    pub async fn create(&self, user: &User, kind: IdentityKind) -> Result<String, StoreError> {
        let id = random_token();
        self.identities.insert_session(&id, user, kind).await?;
        Ok(id)
    }

    /// The identity of session `id`, if it exists and (for a guest) has not gone unused
    /// too long; records the use.
    pub async fn resolve(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        let Some(active) = self.identities.session_activity(id).await? else {
            return Ok(None);
        };
        let now = unix_millis();
        let idle = Duration::from_millis(now.saturating_sub(active.seen_at).max(0) as u64);
        if active.kind == IdentityKind::Guest && self.guest_idle.is_some_and(|limit| idle > limit) {
            self.identities.delete_session(id).await?;
            return Ok(None);
        }
        if idle >= TOUCH_EVERY {
            self.identities.touch_session(id, now).await?;
        }
        Ok(Some(Identity {
            user: active.user,
            kind: active.kind,
            session: Some(id.to_owned()),
        }))
    }

    /// Deletes the guest sessions unused for longer than the limit; returns how many.
    pub async fn sweep_idle_guests(&self) -> Result<u64, StoreError> {
        let Some(limit) = self.guest_idle else {
            return Ok(0);
        };
        let cutoff = unix_millis().saturating_sub(limit.as_millis() as i64);
        self.identities
            .delete_guest_sessions_idle_since(cutoff)
            .await
    }

    /// A guest picked another display name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.identities.rename_session(id, name).await
    }

    /// Ends session `id`: its cookie no longer works, here or on any node.
    pub async fn revoke(&self, id: &str) -> Result<(), StoreError> {
        self.identities.delete_session(id).await
    }
}
