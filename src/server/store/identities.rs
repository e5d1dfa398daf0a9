//! What [`crate::server::auth`] keeps: accounts (a name and a password hash), browser
//! sessions, and the key that signs session cookies.

use async_trait::async_trait;

use crate::protocol::User;
use crate::server::store::StoreError;

/// Who a session is: a guest (a display name) or an account (a name and a password).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    Guest,
    Account,
}

/// A session and when it was last used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionActivity {
    pub user: User,
    pub kind: IdentityKind,
    /// Unix ms; refreshed at most hourly, so up to an hour behind.
    pub seen_at: i64,
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Stores a new account; `false` if its name is taken (case-insensitively).
    async fn insert_account(&self, user: &User, password_hash: &str) -> Result<bool, StoreError>;

    /// The account called `name` and its password hash.
    async fn account_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;

    /// Stores session `id` of `user`.
    async fn insert_session(
        &self,
        id: &str,
        user: &User,
        kind: IdentityKind,
    ) -> Result<(), StoreError>;

    /// Who session `id` is, if it exists.
    async fn session(&self, id: &str) -> Result<Option<(User, IdentityKind)>, StoreError> {
        Ok(self
            .session_activity(id)
            .await?
            .map(|active| (active.user, active.kind)))
    }

    /// Who session `id` is and when it was last used, if it exists.
    async fn session_activity(&self, id: &str) -> Result<Option<SessionActivity>, StoreError>;

    /// Session `id` was used at `now` (unix ms).
    async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError>;

    /// Deletes the guest sessions last used before `cutoff` (unix ms); returns how many.
    async fn delete_guest_sessions_idle_since(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Session `id`'s person is now called `name`.
    async fn rename_session(&self, id: &str, name: &str) -> Result<(), StoreError>;

    /// Removes session `id`.
    async fn delete_session(&self, id: &str) -> Result<(), StoreError>;

    /// The cookie-signing key: `fresh` if none was kept yet (then kept from now on), else
    /// the one kept. Every process on the same database gets the same key.
    async fn cookie_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>, StoreError>;
}
