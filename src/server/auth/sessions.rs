//! Browser sessions: a row per signed-in browser (guest or account).
//!
//! Every page render and socket upgrade of a person with a cookie looks the session up in the
//! table (an indexed read, well under a millisecond). Nothing is cached: a cache would keep a
//! logged-out session alive on every other node sharing the database, and a lookup racing the
//! logout could put it back.

use sqlx::{Row, SqlitePool};

use super::signing::random_token;
use super::{Identity, IdentityKind};
use crate::protocol::User;
use crate::server::store::StoreError;

pub struct Sessions {
    pool: SqlitePool,
}

impl Sessions {
    pub fn new(pool: SqlitePool) -> Self {
        Sessions { pool }
    }

    /// Starts a session for `user`; returns its id (for the cookie).
    pub async fn create(&self, user: &User, kind: IdentityKind) -> Result<String, StoreError> {
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
        Ok(id)
    }

    /// The identity of session `id`, if it exists.
    pub async fn resolve(&self, id: &str) -> Result<Option<Identity>, StoreError> {
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
        Ok(Some(Identity {
            user: User {
                id: row.try_get("user_id")?,
                name: row.try_get("user_name")?,
            },
            kind,
            session: Some(id.to_owned()),
        }))
    }

    /// A guest picked another display name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET user_name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends session `id`: its cookie no longer works, here or on any node.
    pub async fn revoke(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
