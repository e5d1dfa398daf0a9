//! API tokens: how backends and bots authenticate (`Authorization: Bearer <token>`).
//!
//! A token is shown once, when `huddle token create` makes it; the database keeps only its
//! SHA-256, so a leaked copy of the database does not leak working tokens. Tokens are
//! looked up on every request, so revoking one takes effect at once.

use axum::http::{header, HeaderMap};

use super::signing::{random_token, sha256_hex};
use crate::server::store::{StoreError, TokenStore};

/// Prefix of every token, so a leaked one is recognizable (secret scanners look for these).
const TOKEN_PREFIX: &str = "hdl_";

/// Longest token name; names are shown in pushed notices ("from").
pub const MAX_TOKEN_NAME_LEN: usize = 32;

/// Creates a token called `name` and returns it: the only time it is ever shown.
pub async fn create(tokens: &dyn TokenStore, name: &str) -> Result<String, StoreError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TOKEN_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(StoreError::Invalid(format!(
            "a token name is 1 to {MAX_TOKEN_NAME_LEN} of a-z, A-Z, 0-9, - and _"
        )));
    }
    let token = format!("{TOKEN_PREFIX}{}{}", random_token(), random_token());
    if !tokens.insert_token(name, &sha256_hex(&token)).await? {
        return Err(StoreError::Invalid(format!(
            "a token called {name:?} exists; revoke it first"
        )));
    }
    Ok(token)
}

/// Names of all tokens, oldest first.
pub async fn list(tokens: &dyn TokenStore) -> Result<Vec<String>, StoreError> {
    tokens.token_names().await
}

/// Deletes the token called `name`; returns whether there was one.
pub async fn revoke(tokens: &dyn TokenStore, name: &str) -> Result<bool, StoreError> {
    tokens.delete_token(name).await
}

/// The name of the token the request's `Authorization: Bearer` header carries, if valid.
pub async fn authenticate(
    tokens: &dyn TokenStore,
    headers: &HeaderMap,
) -> Result<Option<String>, StoreError> {
    let Some(token) = bearer(headers) else {
        return Ok(None);
    };
    tokens.token_name(&sha256_hex(token)).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
