//! What the SQL engines (SQLite and PostgreSQL, both through sqlx) share: how Huddle's values
//! are held in columns, and how sqlx's errors are told in the store's own terms.

use crate::protocol::{ChatMessage, RoomKind, User};
use crate::server::store::StoreError;

/// A seq as an `INTEGER`/`BIGINT` column holds it. Seqs count messages; they stay far below
/// `i64::MAX`.
pub(super) fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A seq read back from a column; a negative one means the data was not written by Huddle.
pub(super) fn seq_from_column(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative seq {seq}")))
}

/// A room's kind as the `rooms.kind` column holds it; rooms from before kinds are public.
pub(super) fn kind_from_column(kind: &str) -> RoomKind {
    match kind {
        "dm" => RoomKind::Dm,
        _ => RoomKind::Public,
    }
}

/// The columns of a message row, in the order both engines select them.
pub(super) const MESSAGE_COLUMNS: &str =
    "room, seq, id, client_id, author_id, author_name, text, ts";

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(err.to_string())
    }
}

/// A message from a row holding [`MESSAGE_COLUMNS`], in either engine.
pub(super) fn message_from_row<'r, R>(row: &'r R) -> Result<ChatMessage, StoreError>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ChatMessage {
        room: row.try_get("room")?,
        seq: seq_from_column(row.try_get("seq")?)?,
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        user: User {
            id: row.try_get("author_id")?,
            name: row.try_get("author_name")?,
        },
        text: row.try_get("text")?,
        ts: row.try_get("ts")?,
    })
}
