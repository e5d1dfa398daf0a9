//! Accounts: a name and a password, hashed with argon2id.
//!
//! Hashing is deliberately slow (tens of milliseconds), so it runs on the blocking pool,
//! never on a socket's thread. A login for a name that does not exist still verifies a
//! hash, so response time does not reveal which names have accounts.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::signing::random_bytes;
use crate::i18n::Problem;
use crate::protocol::{normalize_name, User};
use crate::server::store::{IdentityStore, StoreError};

pub use crate::protocol::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{}", Problem::InvalidName)]
    InvalidName,
    #[error("{}", Problem::InvalidPassword)]
    InvalidPassword,
    #[error("{}", Problem::NameTaken(.0.clone()))]
    NameTaken(String),
    #[error("{}", Problem::WrongCredentials)]
    WrongCredentials,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    /// What the person is told, in their language; `None` for the server's own failure.
    pub fn problem(&self) -> Option<Problem> {
        Some(match self {
            AccountError::InvalidName => Problem::InvalidName,
            AccountError::InvalidPassword => Problem::InvalidPassword,
            AccountError::NameTaken(name) => Problem::NameTaken(name.clone()),
            AccountError::WrongCredentials => Problem::WrongCredentials,
            AccountError::Store(_) => return None,
        })
    }
}

/// Creates an account; returns who it is.
pub async fn register(
    identities: &dyn IdentityStore,
    name: &str,
    password: &str,
) -> Result<User, AccountError> {
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
    if !identities.insert_account(&user, &hash).await? {
        return Err(AccountError::NameTaken(user.name));
    }
    Ok(user)
}

/// The account `name` and `password` open.
pub async fn login(
    identities: &dyn IdentityStore,
    name: &str,
    password: &str,
) -> Result<User, AccountError> {
    // No account's name holds a control character (see `normalize_name`), and a NUL is not
    // even a string PostgreSQL can look up: such a name is simply not found.
    let found = if name.contains('\0') {
        None
    } else {
        identities.account_by_name(name.trim()).await?
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
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
pub async fn name_is_taken(identities: &dyn IdentityStore, name: &str) -> Result<bool, StoreError> {
    Ok(identities.account_by_name(name).await?.is_some())
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
