//! API tokens in PostgreSQL (`api_tokens`).

use async_trait::async_trait;
use sqlx::Row;

use super::PostgresStore;
use crate::server::clock::unix_millis;
use crate::server::store::tokens::TokenStore;
use crate::server::store::StoreError;

#[async_trait]
impl TokenStore for PostgresStore {
    async fn insert_token(&self, name: &str, token_hash: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(token_hash)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() > 0)
    }

    async fn token_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT name FROM api_tokens ORDER BY created_at, name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("name")?)).collect()
    }

    async fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn token_name(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("name")?),
            None => None,
        })
    }
}
