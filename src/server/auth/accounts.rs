//! Accounts: a name and a password, hashed with argon2id.
//!
//! Hashing is deliberately slow (tens of milliseconds), so it runs on the blocking pool,
//! never on a socket's thread. A login for a name that does not exist still verifies a
//! hash, so response time does not reveal which names have accounts.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::{Row, SqlitePool};

use super::signing::random_bytes;
use crate::protocol::{normalize_name, User, MAX_NAME_CHARS};
use crate::server::store::StoreError;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted: hashing cost grows with length, so it is bounded.
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a display name has 1 to {MAX_NAME_CHARS} characters and no control characters")]
    InvalidName,
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    InvalidPassword,
    #[error("the name {0:?} is taken")]
    NameTaken(String),
    #[error("wrong name or password")]
    WrongCredentials,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AccountError {
    fn from(err: sqlx::Error) -> Self {
        AccountError::Store(err.into())
    }
}

/// Creates an account; returns who it is.
pub async fn register(pool: &SqlitePool, name: &str, password: &str) -> Result<User, AccountError> {
    let name = normalize_name(name).ok_or(AccountError::InvalidName)?;
    let length = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(AccountError::InvalidPassword);
    }
    let hash = hash_password(password.to_owned()).await?;
    let user = User {
        id: format!("u-{}", uuid::Uuid::new_v4().simple()),
        name,
    };
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, name, password_hash, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.name)
    .bind(&hash)
    .bind(crate::server::clock::unix_millis())
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AccountError::NameTaken(user.name));
    }
    Ok(user)
}

/// The account `name` and `password` open.
pub async fn login(pool: &SqlitePool, name: &str, password: &str) -> Result<User, AccountError> {
    let row = sqlx::query("SELECT id, name, password_hash FROM accounts WHERE name = ?")
        .bind(name.trim())
        .fetch_optional(pool)
        .await?;
    let (user, hash) = match row {
        Some(row) => (
            Some(User {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
            }),
            row.try_get::<String, _>("password_hash")?,
        ),
        // Same work as a real check, against a hash no password matches.
        None => (None, dummy_hash().await?),
    };
    let matches = verify_password(password.to_owned(), hash).await;
    match user {
        Some(user) if matches => Ok(user),
        _ => Err(AccountError::WrongCredentials),
    }
}

/// Whether an account holds `name` (case-insensitively): guests may not take it.
pub async fn name_is_taken(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let found = sqlx::query("SELECT 1 FROM accounts WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// Whether `user_id` is an account's id.
pub async fn find(pool: &SqlitePool, user_id: &str) -> Result<Option<User>, StoreError> {
    let row = sqlx::query("SELECT id, name FROM accounts WHERE id = ?")
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(row) => Some(User {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
        }),
        None => None,
    })
}

async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|err| StoreError::Writer(format!("salt: {err}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| StoreError::Writer(format!("password hash: {err}")))
    })
    .await
    .map_err(|err| StoreError::Writer(err.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

async fn dummy_hash() -> Result<String, StoreError> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password("not anyone's password".to_owned()))
        .await
        .cloned()
}
