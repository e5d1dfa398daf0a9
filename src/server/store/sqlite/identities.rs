//! Accounts, sessions and the cookie key in SQLite (`accounts`, `sessions`,
//! `server_secrets`).

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteStore;
use crate::protocol::User;
use crate::server::clock::unix_millis;
use crate::server::store::identities::{IdentityKind, IdentityStore, SessionActivity};
use crate::server::store::StoreError;

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn insert_account(&self, user: &User, password_hash: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, name, password_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(password_hash)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() > 0)
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query("SELECT id, name, password_hash FROM accounts WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some((
                User {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                },
                row.try_get("password_hash")?,
            )),
            None => None,
        })
    }

    async fn insert_session(
        &self,
        id: &str,
        user: &User,
        kind: IdentityKind,
    ) -> Result<(), StoreError> {
        let kind = match kind {
            IdentityKind::Guest => "guest",
            IdentityKind::Account => "account",
        };
        let now = unix_millis();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, user_name, kind, created_at, seen_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&user.id)
        .bind(&user.name)
        .bind(kind)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_activity(&self, id: &str) -> Result<Option<SessionActivity>, StoreError> {
        let row =
            sqlx::query("SELECT user_id, user_name, kind, seen_at FROM sessions WHERE id = ?")
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
        let user = User {
            id: row.try_get("user_id")?,
            name: row.try_get("user_name")?,
        };
        Ok(Some(SessionActivity {
            user,
            kind,
            seen_at: row.try_get("seen_at")?,
        }))
    }

    async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET seen_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_guest_sessions_idle_since(&self, cutoff: i64) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE kind = 'guest' AND seen_at < ?")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn rename_session(&self, id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET user_name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn cookie_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ('cookie_key', ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'cookie_key'")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
