//! What [`crate::server::auth::api_tokens`] keeps: each API token's name and the SHA-256 of
//! the token (never the token).

use async_trait::async_trait;

use crate::server::store::StoreError;

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a token; `false` if one with that name exists.
    async fn insert_token(&self, name: &str, token_hash: &str) -> Result<bool, StoreError>;

    /// The names of all tokens, oldest first.
    async fn token_names(&self) -> Result<Vec<String>, StoreError>;

    /// Removes the token called `name`; `false` if there was none.
    async fn delete_token(&self, name: &str) -> Result<bool, StoreError>;

    /// The name of the token whose hash is `token_hash`.
    async fn token_name(&self, token_hash: &str) -> Result<Option<String>, StoreError>;
}
