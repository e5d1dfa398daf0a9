//! Everything Huddle keeps, behind traits, so that PostgreSQL (shared by several nodes) can
//! replace the embedded SQLite default without touching the hub, the socket code, auth or the
//! directory: message history ([`Store`]), rooms and room lists ([`RoomStore`]), accounts and
//! sessions ([`IdentityStore`]), API tokens ([`TokenStore`]). Errors are the store's own
//! ([`StoreError`]), whatever the engine. [`open`] is the one place an engine is chosen.

mod database;
pub mod identities;
mod metered;
mod postgres;
pub mod rooms;
mod sql;
mod sqlite;
pub mod tokens;

use std::sync::Arc;

pub use database::{mask_password, Database};
pub use identities::IdentityStore;
pub use metered::MeteredStore;
pub use postgres::PostgresStore;
pub use rooms::RoomStore;
pub use sqlite::SqliteStore;
pub use tokens::TokenStore;

use async_trait::async_trait;

use crate::protocol::{ChatMessage, HistoryPage, User};
use crate::server::clock::unix_millis;

/// A message accepted from a client, not yet given its place (seq) in the room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub room: String,
    pub id: String,
    pub client_id: String,
    pub user: User,
    pub text: String,
    pub ts: i64,
}

impl NewMessage {
    /// A message `user` wrote in `room`, written now: it gets a fresh id (a UUIDv7, so ids
    /// sort by time) and, when its sender gave none, a client id of its own (a retry without
    /// one cannot be recognized, so it is stored again).
    pub fn new(room: String, client_id: Option<String>, user: User, text: String) -> Self {
        NewMessage {
            room,
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            user,
            text,
            ts: unix_millis(),
        }
    }
}

/// What happened to one message of an appended batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next seq of its room.
    Stored(ChatMessage),
    /// The same author had already sent this client_id: this is the copy stored then.
    Duplicate(ChatMessage),
}

impl Appended {
    /// The message if it was stored now; a retry's copy was published the first time.
    pub fn stored(&self) -> Option<&ChatMessage> {
        match self {
            Appended::Stored(message) => Some(message),
            Appended::Duplicate(_) => None,
        }
    }

    pub fn message(&self) -> &ChatMessage {
        match self {
            Appended::Stored(message) | Appended::Duplicate(message) => message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (its own words).
    #[error("database error: {0}")]
    Database(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("history writer: {0}")]
    Writer(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A request the store refuses as it stands (a duplicate name, an invalid value).
    #[error("{0}")]
    Invalid(String),
}

/// What [`Store::probe_write`] writes: about as much as a busy batch of messages.
pub const PROBE_WRITE_BYTES: usize = 64 * 1024;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores `batch` in one transaction, in order, giving each new message the next seq of
    /// its room. A message whose (author, client_id) is already stored — before or earlier in
    /// the same batch — is not stored again. Returns one outcome per input, in input order.
    /// Either the whole batch is committed or none of it is. It may block the calling thread
    /// until the commit is durable (SQLite's does): the committer calls it from a thread of
    /// its own.
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError>;

    /// The last seq of every room that has messages.
    async fn heads(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// The last seq of `room` (0 if it has no messages): where a room that left the hub's
    /// memory comes back.
    async fn head(&self, room: &str) -> Result<u64, StoreError>;

    /// Messages of `room` with `after < seq <= up_to`, in seq order.
    async fn range(
        &self,
        room: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<ChatMessage>, StoreError>;

    /// The `limit` messages of `room` just before seq `before` (or the latest ones), oldest
    /// first.
    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage, StoreError>;

    /// Asks the database for the cheapest answer it can give, for `/readyz`: `Ok` if it
    /// answers at all.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes and commits [`PROBE_WRITE_BYTES`], for `/readyz` after a failed commit: `Ok`
    /// once the store takes writes of a commit's size again (the disk has room, the lock is
    /// gone). A write of a few bytes would not tell: it can fit where a batch no longer does.
    async fn probe_write(&self) -> Result<(), StoreError>;

    /// Finishes what is being written and lets the database go (the process is ending).
    async fn close(&self) {}
}

/// Every store of one database, each behind its trait.
#[derive(Clone)]
pub struct Stores {
    pub messages: Arc<dyn Store>,
    pub rooms: Arc<dyn RoomStore>,
    pub identities: Arc<dyn IdentityStore>,
    pub tokens: Arc<dyn TokenStore>,
}

impl Stores {
    /// Finishes what is being written and lets the database go.
    pub async fn close(&self) {
        self.messages.close().await;
    }
}

/// Opens the database `database` names and brings its schema up to date: a SQLite file (the
/// zero-configuration default, created if needed) or a PostgreSQL server (the database must
/// exist; its tables are created).
pub async fn open(database: &Database) -> Result<Stores, StoreError> {
    match database {
        Database::Sqlite(path) => Ok(Stores::all_in(Arc::new(SqliteStore::open(path).await?))),
        Database::Postgres(url) => Ok(Stores::all_in(Arc::new(PostgresStore::open(url).await?))),
    }
}

impl Stores {
    /// Every store in one engine's `store`.
    fn all_in<E: Store + RoomStore + IdentityStore + TokenStore>(store: Arc<E>) -> Self {
        Stores {
            messages: store.clone(),
            rooms: store.clone(),
            identities: store.clone(),
            tokens: store,
        }
    }
}
