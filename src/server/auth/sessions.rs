//! Browser sessions: a row per signed-in browser (guest or account), cached in memory.
//!
//! Every page render and socket upgrade of a person with a cookie resolves it here, so hits
//! are served from memory; the table is what survives restarts, and what logging out deletes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sqlx::{Row, SqlitePool};

use super::signing::random_token;
use super::{Identity, IdentityKind};
use crate::protocol::User;
use crate::server::store::StoreError;

pub struct Sessions {
    pool: SqlitePool,
    /// Sessions already looked up (or created) by this process.
    cache: Mutex<HashMap<String, Identity>>,
}

impl Sessions {
    pub fn new(pool: SqlitePool) -> Self {
        Sessions {
            pool,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `user`; returns its id (for the cookie).
    pub async fn create(&self, user: User, kind: IdentityKind) -> Result<String, StoreError> {
        let id = random_token();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, user_name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&user.id)
        .bind(&user.name)
        .bind(kind.as_str())
        .bind(crate::server::clock::unix_millis())
        .execute(&self.pool)
        .await?;
        let identity = Identity {
            user,
            kind,
            session: Some(id.clone()),
        };
        self.lock().insert(id.clone(), identity);
        Ok(id)
    }

    /// The identity of session `id`, if it exists.
    pub async fn resolve(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        if let Some(identity) = self.lock().get(id) {
            return Ok(Some(identity.clone()));
        }
        let row = sqlx::query("SELECT user_id, user_name, kind FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let kind = match row.try_get::<String, _>("kind")?.as_str() {
            "account" => IdentityKind::Account,
            _ => IdentityKind::Guest,
        };
        let identity = Identity {
            user: User {
                id: row.try_get("user_id")?,
                name: row.try_get("user_name")?,
            },
            kind,
            session: Some(id.to_owned()),
        };
        self.lock().insert(id.to_owned(), identity.clone());
        Ok(Some(identity))
    }

    /// A guest picked another display name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET user_name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if let Some(identity) = self.lock().get_mut(id) {
            identity.user.name = name.to_owned();
        }
        Ok(())
    }

    /// Ends session `id`: its cookie no longer works, here or on any node.
    pub async fn revoke(&self, id: &str) -> Result<(), StoreError> {
        self.lock().remove(id);
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Identity>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
