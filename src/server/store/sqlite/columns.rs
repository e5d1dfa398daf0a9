//! How Huddle's values are kept in SQLite's columns, shared by the reading pool and the
//! writer.

/// A seq as SQLite stores it. Seqs count messages; they stay far below `i64::MAX`.
pub(super) fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
