//! API tokens: how backends and bots authenticate (`Authorization: Bearer <token>`).
//!
//! A token is shown once, when `huddle token create` makes it; the database keeps only its
//! SHA-256, so a leaked copy of the database does not leak working tokens. Tokens are
//! looked up on every request, so revoking one takes effect at once.

use axum::http::{header, HeaderMap};
use sqlx::{Row, SqlitePool};

use super::signing::{random_token, sha256_hex};
use crate::server::store::StoreError;

/// Prefix of every token, so a leaked one is recognizable (secret scanners look for these).
const TOKEN_PREFIX: &str = "hdl_";

/// Longest token name; names are shown in pushed notices ("from").
pub const MAX_TOKEN_NAME_LEN: usize = 32;

/// Creates a token called `name` and returns it: the only time it is ever shown.
pub async fn create(pool: &SqlitePool, name: &str) -> Result<String, StoreError> {
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
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(sha256_hex(&token))
    .bind(crate::server::clock::unix_millis())
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Invalid(format!(
            "a token called {name:?} exists; revoke it first"
        )));
    }
    Ok(token)
}

/// Names of all tokens, oldest first.
pub async fn list(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT name FROM api_tokens ORDER BY created_at, name")
        .fetch_all(pool)
        .await?;
    rows.iter().map(|row| Ok(row.try_get("name")?)).collect()
}

/// Deletes the token called `name`; returns whether there was one.
pub async fn revoke(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM api_tokens WHERE name = ?")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// The name of the token the request's `Authorization: Bearer` header carries, if valid.
pub async fn authenticate(
    pool: &SqlitePool,
    headers: &HeaderMap,
) -> Result<Option<String>, StoreError> {
    let Some(token) = bearer(headers) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT name FROM api_tokens WHERE token_hash = ?")
        .bind(sha256_hex(token))
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("name")?),
        None => None,
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
