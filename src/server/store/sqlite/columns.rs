//! How Huddle's values and errors are told in SQLite's terms, shared by the reading pool and the
//! writer.

/// A seq as SQLite stores it. Seqs count messages; they stay far below `i64::MAX`.
pub(super) fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A room's kind as the `rooms.kind` column holds it; rooms from before kinds are public.
pub(super) fn kind_from_column(kind: &str) -> crate::protocol::RoomKind {
    match kind {
        "dm" => crate::protocol::RoomKind::Dm,
        _ => crate::protocol::RoomKind::Public,
    }
}

/// Errors of the engine, told in the store's own terms.
impl From<sqlx::Error> for crate::server::store::StoreError {
    fn from(err: sqlx::Error) -> Self {
        crate::server::store::StoreError::Database(err.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for crate::server::store::StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        crate::server::store::StoreError::Migration(err.to_string())
    }
}

impl From<rusqlite::Error> for crate::server::store::StoreError {
    fn from(err: rusqlite::Error) -> Self {
        crate::server::store::StoreError::Database(err.to_string())
    }
}
