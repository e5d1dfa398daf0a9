//! How the writer's engine (rusqlite) tells its errors in the store's terms; the values shared
//! with the read pool are in [`crate::server::store::sql`].

impl From<rusqlite::Error> for crate::server::store::StoreError {
    fn from(err: rusqlite::Error) -> Self {
        crate::server::store::StoreError::Database(err.to_string())
    }
}
