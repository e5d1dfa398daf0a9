//! PostgreSQL, for several nodes sharing one history: everything SQLite keeps, in the same
//! tables, through a sqlx pool. Seqs are given inside the committing transaction
//! ([`append`]), so nodes writing the same room at once never share or skip one.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Row};
use tokio::runtime::Handle;

mod append;
mod identities;
mod rooms;
mod tokens;

use crate::protocol::{ChatMessage, HistoryPage};
use crate::server::clock::unix_millis;
use crate::server::store::sql::{message_from_row, seq_from_column, to_i64, MESSAGE_COLUMNS};
use crate::server::store::{Appended, NewMessage, Store, StoreError};

/// Connections kept open: one for the committer's batches, the rest for page renders, history
/// requests and resumes. PostgreSQL's default allows 100 in all, so ten nodes fit.
const MAX_CONNECTIONS: u32 = 10;

/// How long a request waits for a connection (or to connect) before it fails. Also how long a
/// server starting against an unreachable database takes to say so.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PostgresStore {
    pool: PgPool,
    /// The runtime the pool was opened on. The committer calls [`Store::append`] from a
    /// runtime of its own (src/server/history/committer.rs); its batches are run here instead,
    /// so every connection of the pool lives and is woken on one runtime.
    runtime: Handle,
}

impl PostgresStore {
    /// Connects to the database at `url` (which must exist) and brings its schema up to date
    /// with the migrations embedded in the binary. Call it from within a tokio runtime.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // Every statement planned for its own parameters. sqlx prepares statements, and after a
        // few runs PostgreSQL may switch to a generic plan made while the tables were empty: a
        // sequential scan of `messages` for the batch's retry lookup, whatever its size. That
        // cost grew with the history (group commits of 15 ms at 100,000 messages).
        let options =
            PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_custom_plan")]);
        // One connection first, for its error: the pool retries a refused connection until
        // its timeout and then reports only that it timed out.
        let probe = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| StoreError::Database(format!("no answer within {ACQUIRE_TIMEOUT:?}")))??;
        probe.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            runtime: Handle::current(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        let pool = self.pool.clone();
        self.runtime
            .spawn(async move { append::append(&pool, &batch).await })
            .await
            .map_err(|err| StoreError::Writer(format!("the commit task ended: {err}")))?
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe_write(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE write_probe SET at = $1, padding = $2 WHERE id = 1")
            .bind(unix_millis())
            .bind(vec![0u8; super::PROBE_WRITE_BYTES])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn heads(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query("SELECT room, head FROM room_heads WHERE head > 0")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("room")?, seq_from_column(row.try_get("head")?)?)))
            .collect()
    }

    async fn head(&self, room: &str) -> Result<u64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT head FROM room_heads WHERE room = $1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        head.map_or(Ok(0), seq_from_column)
    }

    async fn range(
        &self,
        room: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq > $2 AND seq <= $3 ORDER BY seq"
        ))
        .bind(room)
        .bind(to_i64(after))
        .bind(to_i64(up_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage, StoreError> {
        // One more than asked tells whether older messages exist.
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(room)
        .bind(before.map(to_i64).unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() > limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(HistoryPage {
            room: room.to_owned(),
            messages,
            has_more,
        })
    }

    async fn close(&self) {
        PostgresStore::close(self).await;
    }
}
