//! The embedded default: one SQLite file, in WAL mode, through sqlx.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

mod columns;
mod identities;
mod rooms;
mod tokens;
mod writer;

use crate::protocol::{ChatMessage, HistoryPage};
use crate::server::clock::unix_millis;
use crate::server::store::sql::{
    message_from_row, seq_from_column, to_i64, MESSAGE_COLUMNS as COLUMNS,
};
use crate::server::store::{Appended, NewMessage, Store, StoreError};
use writer::Writer;

/// Readers run beside the single writer (WAL lets them); four covers page renders, history
/// requests and resumes on a small machine.
const MAX_CONNECTIONS: u32 = 4;

/// How long a statement waits on a lock before failing. Only startup and an external tool
/// holding the file can make it wait.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads go through a small sqlx pool; every write goes through the one [`Writer`].
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to
    /// date with the migrations embedded in the binary.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before the ack goes out, so an acknowledged message
            // survives a power cut, not only a process crash. Group commit pays one fsync
            // per batch, not per message.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = Writer::start(path)?;
        Ok(SqliteStore { pool, writer })
    }

    /// `PRAGMA integrity_check`'s verdict: "ok" for a sound file.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        // On this thread, without an await: the committer's thread waits for the commit.
        self.writer.append(batch)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe_write(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE write_probe SET at = ?, padding = ? WHERE id = 1")
            .bind(unix_millis())
            .bind(vec![0u8; super::PROBE_WRITE_BYTES])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn heads(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query("SELECT room, MAX(seq) AS head FROM messages GROUP BY room")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let head: i64 = row.try_get("head")?;
                Ok((row.try_get("room")?, u64::try_from(head).unwrap_or(0)))
            })
            .collect()
    }

    async fn head(&self, room: &str) -> Result<u64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE room = ?")
            .bind(room)
            .fetch_one(&self.pool)
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
            "SELECT {COLUMNS} FROM messages WHERE room = ? AND seq > ? AND seq <= ? ORDER BY seq"
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
            "SELECT {COLUMNS} FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
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
        // The inherent method: the writer, then the read pool.
        SqliteStore::close(self).await;
    }
}

#[cfg(test)]
mod tests {
    //! What only the SQLite file has to hold; what every engine holds is in tests/store.rs.

    use super::*;
    use crate::protocol::User;

    fn new_message(room: &str, author: &str, client_id: &str, text: &str) -> NewMessage {
        NewMessage {
            room: room.into(),
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.into(),
            user: User {
                id: author.into(),
                name: author.to_uppercase(),
            },
            text: text.into(),
            ts: 1_700_000_000_000,
        }
    }

    /// A store at `path` that stored one message, "kept", and was then closed.
    async fn closed_after_one_message(path: &Path) -> SqliteStore {
        let store = SqliteStore::open(path).await.unwrap();
        store
            .append(vec![new_message("a", "u", "1", "kept")])
            .await
            .unwrap();
        store.close().await;
        store
    }

    #[tokio::test]
    async fn history_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huddle.db");
        closed_after_one_message(&path).await;
        let reopened = SqliteStore::open(&path).await.unwrap();
        assert_eq!(reopened.range("a", 0, 10).await.unwrap()[0].text, "kept");
        assert_eq!(reopened.integrity_check().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn a_closed_store_refuses_a_batch_clearly_and_keeps_what_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huddle.db");
        let store = closed_after_one_message(&path).await;
        let err = store
            .append(vec![new_message("a", "u", "2", "late")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        let reopened = SqliteStore::open(&path).await.unwrap();
        let kept = reopened.range("a", 0, 10).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text, "kept");
    }

    #[tokio::test]
    async fn an_unwritable_path_is_a_clear_error() {
        let err = match SqliteStore::open(Path::new("/nonexistent-dir/huddle.db")).await {
            Err(err) => err,
            Ok(_) => panic!("opening under a missing directory must fail"),
        };
        assert!(err.to_string().contains("database"), "{err}");
    }
}
