//! Who is on the other end of a request: an account, a guest with a session, or an
//! anonymous guest (a raw WebSocket client without cookies).
//!
//! A browser's identity is a session: the `huddle_session` cookie carries the session's
//! id, signed with the server's key ([`signing`]), HttpOnly (page scripts never see it),
//! SameSite=Lax (other sites' requests do not carry it). It never goes in a URL and is never
//! logged. Backends authenticate with API tokens instead ([`api_tokens`]).

pub mod accounts;
pub mod api_tokens;
mod login_throttle;
mod sessions;
pub mod signing;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::i18n::{Burst, Problem};
use crate::protocol::{normalize_name, User};
use crate::server::config::Config;
pub use crate::server::store::identities::IdentityKind;
use crate::server::store::{IdentityStore, StoreError};
use crate::server::window_limit::WindowLimit;
use login_throttle::LoginThrottle;
use sessions::Sessions;
use signing::Signer;

pub const SESSION_COOKIE: &str = "huddle_session";
/// How long a browser keeps its session: one year (logging out ends it sooner).
const COOKIE_MAX_AGE_SECS: u64 = 365 * 24 * 60 * 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: User,
    pub kind: IdentityKind,
    /// The session this identity came from; `None` for an anonymous guest.
    pub session: Option<String>,
}

/// Sessions, accounts and the cookie that ties a browser to them.
pub struct Auth {
    identities: Arc<dyn IdentityStore>,
    signer: Signer,
    sessions: Sessions,
    pub allow_guests: bool,
    pub allow_accounts: bool,
    secure_cookies: bool,
    login_throttle: LoginThrottle,
    /// Per client address and minute (`--guests-per-address-per-minute` and the like): a
    /// script cannot fill the sessions and accounts tables from one address.
    new_guests: WindowLimit<IpAddr>,
    registrations: WindowLimit<IpAddr>,
    logins: WindowLimit<IpAddr>,
}

impl Auth {
    /// Uses `config`'s session secret, or the one kept in the database (made on first run).
    pub async fn open(
        identities: Arc<dyn IdentityStore>,
        config: &Config,
    ) -> Result<Auth, StoreError> {
        let key = match &config.session_secret {
            Some(secret) => secret.0.as_bytes().to_vec(),
            None => {
                let fresh = signing::random_bytes::<32>().to_vec();
                identities.cookie_key(fresh).await?
            }
        };
        Ok(Auth {
            sessions: Sessions::new(identities.clone(), config.guest_idle()),
            identities,
            signer: Signer::new(&key),
            allow_guests: config.guests,
            allow_accounts: config.accounts,
            secure_cookies: config.secure_cookies,
            login_throttle: LoginThrottle::default(),
            new_guests: WindowLimit::per_minute(config.guests_per_address_per_minute),
            registrations: WindowLimit::per_minute(config.registrations_per_address_per_minute),
            logins: WindowLimit::per_minute(config.logins_per_address_per_minute),
        })
    }

    /// The identity of the request's session cookie; `None` without a valid, live one.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Option<Identity>, StoreError> {
        let Some(session) = cookie(headers, SESSION_COOKIE).and_then(|c| self.signer.verify(c))
        else {
            return Ok(None);
        };
        let identity = self.sessions.resolve(session).await?;
        // Guests switched off after their session began are guests no more.
        Ok(identity.filter(|i| i.kind == IdentityKind::Account || self.allow_guests))
    }

    /// A guest without a session: a raw WebSocket client. `None` when guests are not allowed.
    pub fn anonymous_guest(&self) -> Option<Identity> {
        self.allow_guests.then(|| Identity {
            user: guest_user(),
            kind: IdentityKind::Guest,
            session: None,
        })
    }

    /// A guest picked a display name: renames their session, or starts one (counted against
    /// `from`, the client's address, if known). Returns the identity and, for a new session,
    /// its `Set-Cookie` value.
    pub async fn choose_guest_name(
        &self,
        name: &str,
        existing: Option<&Identity>,
        from: Option<IpAddr>,
    ) -> Result<(Identity, Option<String>), AuthError> {
        if !self.allow_guests {
            return Err(AuthError::GuestsNotAllowed);
        }
        let name = normalize_name(name).ok_or(accounts::AccountError::InvalidName)?;
        if accounts::name_is_taken(self.identities.as_ref(), &name).await? {
            return Err(AuthError::NameBelongsToAccount(name));
        }
        if let Some(existing) = existing.filter(|i| i.kind == IdentityKind::Guest) {
            if let Some(session) = &existing.session {
                self.sessions.rename(session, &name).await?;
                let mut renamed = existing.clone();
                renamed.user.name = name;
                return Ok((renamed, None));
            }
        }
        admit(&self.new_guests, Burst::NewGuests, from)?;
        let user = User {
            id: guest_user().id,
            name,
        };
        let (identity, cookie) = self.start(user, IdentityKind::Guest).await?;
        Ok((identity, Some(cookie)))
    }

    /// Registers an account and signs it in; the attempt counts against `from`, the client's
    /// address, if known (taken names too, so names cannot be probed at speed).
    pub async fn register(
        &self,
        name: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<(Identity, String), AuthError> {
        if !self.allow_accounts {
            return Err(AuthError::AccountsNotAllowed);
        }
        admit(&self.registrations, Burst::Registrations, from)?;
        let user = accounts::register(self.identities.as_ref(), name, password).await?;
        self.start(user, IdentityKind::Account).await
    }

    /// Logs in to an account. Each name allows a few wrong passwords per window
    /// ([`login_throttle`]), so guessing one person's password is not a matter of time; each
    /// client address (`from`, if known) a few attempts a minute on any names, so one
    /// guesser cannot try one password on every name.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<(Identity, String), AuthError> {
        if !self.allow_accounts {
            return Err(AuthError::AccountsNotAllowed);
        }
        admit(&self.logins, Burst::Logins, from)?;
        self.login_throttle
            .attempt(name, Instant::now())
            .map_err(|wait| AuthError::TooManyLoginAttempts {
                minutes: wait.as_secs().div_ceil(60).max(1),
            })?;
        let outcome = accounts::login(self.identities.as_ref(), name, password).await;
        match &outcome {
            Ok(_) => self.login_throttle.succeeded(name),
            Err(accounts::AccountError::WrongCredentials) => {}
            Err(_) => self.login_throttle.undo(name),
        }
        self.start(outcome?, IdentityKind::Account).await
    }

    /// Whether `identity`'s session still exists (a socket that registered while its session
    /// was being ended must not outlive it). Anonymous guests have none to lose.
    pub async fn still_valid(&self, session: Option<&str>) -> Result<bool, StoreError> {
        match session {
            Some(session) => Ok(self.sessions.resolve(session).await?.is_some()),
            None => Ok(true),
        }
    }

    /// Deletes guest sessions unused for `--guest-idle-days`; returns how many. Run hourly
    /// by [`spawn_idle_guest_sweeper`].
    pub async fn sweep_idle_guests(&self) -> Result<u64, StoreError> {
        self.sessions.sweep_idle_guests().await
    }

    /// Ends the identity's session. The caller closes the person's sockets.
    pub async fn logout(&self, identity: &Identity) -> Result<(), StoreError> {
        match &identity.session {
            Some(session) => self.sessions.revoke(session).await,
            None => Ok(()),
        }
    }

    async fn start(&self, user: User, kind: IdentityKind) -> Result<(Identity, String), AuthError> {
        let session = self.sessions.create(&user, kind).await?;
        let cookie = self.cookie_header(&self.signer.sign(&session), COOKIE_MAX_AGE_SECS);
        Ok((
            Identity {
                user,
                kind,
                session: Some(session),
            },
            cookie,
        ))
    }

    /// The `Set-Cookie` value that makes the browser forget its session.
    pub fn clear_cookie(&self) -> String {
        self.cookie_header("", 0)
    }

    fn cookie_header(&self, value: &str, max_age: u64) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!(
            "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}", Problem::GuestsNotAllowed)]
    GuestsNotAllowed,
    #[error("{}", Problem::AccountsNotAllowed)]
    AccountsNotAllowed,
    #[error("{}", Problem::NameBelongsToAccount(.0.clone()))]
    NameBelongsToAccount(String),
    #[error("{}", Problem::TooManyLoginAttempts { minutes: *.minutes })]
    TooManyLoginAttempts { minutes: u64 },
    #[error("{}", Problem::TooFast { what: *.what, seconds: *.seconds })]
    TooFast { what: Burst, seconds: u64 },
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// What the person is told, in their language; `None` for the server's own failure.
    pub fn problem(&self) -> Option<Problem> {
        Some(match self {
            AuthError::GuestsNotAllowed => Problem::GuestsNotAllowed,
            AuthError::AccountsNotAllowed => Problem::AccountsNotAllowed,
            AuthError::NameBelongsToAccount(name) => Problem::NameBelongsToAccount(name.clone()),
            AuthError::TooManyLoginAttempts { minutes } => {
                Problem::TooManyLoginAttempts { minutes: *minutes }
            }
            AuthError::TooFast { what, seconds } => Problem::TooFast {
                what: *what,
                seconds: *seconds,
            },
            AuthError::Account(err) => return err.problem(),
            AuthError::Store(_) => return None,
        })
    }
}

/// How often the sessions table is swept of idle guests.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// Sweeps idle guest sessions now and then every [`SWEEP_EVERY`], for as long as `auth` is
/// in use (the task holds it weakly, so a server that is dropped takes the task with it).
pub fn spawn_idle_guest_sweeper(auth: &Arc<Auth>) {
    let auth = Arc::downgrade(auth);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            let Some(auth) = auth.upgrade() else {
                return;
            };
            match auth.sweep_idle_guests().await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(swept, "deleted idle guest sessions"),
                // Tried again next time; until then an idle session is refused at its next
                // use anyway.
                Err(err) => tracing::warn!(%err, "cannot sweep idle guest sessions"),
            }
        }
    });
}

/// Counts a request against `from`'s budget in `limit` (none without an address).
fn admit(limit: &WindowLimit<IpAddr>, what: Burst, from: Option<IpAddr>) -> Result<(), AuthError> {
    let Some(from) = from else {
        return Ok(());
    };
    limit
        .take(&from, Instant::now())
        .map_err(|wait| AuthError::TooFast {
            what,
            seconds: whole_seconds(wait),
        })
}

/// A wait as whole seconds, rounded up: "try again in 0 s" would be wrong.
pub fn whole_seconds(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

/// A fresh guest identity: a random id and a short generated name.
fn guest_user() -> User {
    let id = uuid::Uuid::new_v4();
    let short = &id.simple().to_string()[..4];
    User {
        id: format!("guest-{id}"),
        name: format!("guest-{short}"),
    }
}

/// The value of the first cookie called `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}
