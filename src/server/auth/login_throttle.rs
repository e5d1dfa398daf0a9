//! Limits password guessing: at most [`MAX_ATTEMPTS`] failed logins per account name in a
//! [`WINDOW`]; after that the name refuses every attempt, right or wrong, until the window
//! that began with its first failure ends.
//!
//! Counted per name, not per address: behind a proxy every client has the proxy's address,
//! and a guesser with many addresses would get many budgets. The price is that anyone can
//! lock a name for one window by failing on purpose; the owner's open sessions keep working,
//! and the lock ends by itself.
//!
//! An attempt is counted when it starts and forgiven when it succeeds, so a hundred guesses
//! sent at once cannot all pass the check before the first of them has failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per name and window.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a name's count lasts, from its first failure.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Names counted at once. A flood of made-up names forgets the oldest counts first, so the
/// table's memory stays bounded.
const MAX_NAMES: usize = 10_000;

#[derive(Default)]
pub struct LoginThrottle {
    names: Mutex<HashMap<String, Attempts>>,
}

#[derive(Clone, Copy)]
struct Attempts {
    count: u32,
    since: Instant,
}

impl LoginThrottle {
    /// Counts an attempt on `name`, or refuses it with the time left until the name's
    /// window ends.
    pub fn attempt(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let key = key(name);
        let current = names
            .get_mut(&key)
            .filter(|attempts| now < attempts.since + WINDOW);
        if let Some(attempts) = current {
            if attempts.count >= MAX_ATTEMPTS {
                return Err(attempts.since + WINDOW - now);
            }
            attempts.count += 1;
            return Ok(());
        }
        if !names.contains_key(&key) {
            make_room(&mut names, now);
        }
        names.insert(
            key,
            Attempts {
                count: 1,
                since: now,
            },
        );
        Ok(())
    }

    /// The right password: the name's count starts over.
    pub fn succeeded(&self, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.remove(&key(name));
    }

    /// The attempt ended without a verdict on the password (the store failed): it does
    /// not count.
    pub fn undo(&self, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(attempts) = names.get_mut(&key(name)) {
            attempts.count = attempts.count.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.names.lock().unwrap().len()
    }
}

/// Keeps the table below [`MAX_NAMES`]: expired counts go first, then the oldest.
fn make_room(names: &mut HashMap<String, Attempts>, now: Instant) {
    if names.len() < MAX_NAMES {
        return;
    }
    names.retain(|_, attempts| now < attempts.since + WINDOW);
    if names.len() < MAX_NAMES {
        return;
    }
    let oldest = names
        .iter()
        .min_by_key(|(_, attempts)| attempts.since)
        .map(|(name, _)| name.clone());
    if let Some(oldest) = oldest {
        names.remove(&oldest);
    }
}

/// Account names are unique regardless of case and surrounding spaces; so are their counts.
fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_attempts_pass_then_the_name_is_refused_until_its_window_ends() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for n in 0..MAX_ATTEMPTS {
            assert!(throttle.attempt("Grace", start).is_ok(), "attempt {n}");
        }
        let later = start + Duration::from_secs(60);
        assert_eq!(
            throttle.attempt("Grace", later),
            Err(WINDOW - Duration::from_secs(60))
        );
        // Other names keep their own count.
        assert!(throttle.attempt("Ada", later).is_ok());
        // The window ends: a fresh count.
        assert!(throttle.attempt("Grace", start + WINDOW).is_ok());
    }

    #[test]
    fn case_and_spaces_do_not_make_a_new_count() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for name in ["grace", "GRACE", " Grace ", "gRaCe", "Grace"] {
            throttle.attempt(name, now).unwrap();
        }
        assert!(throttle.attempt("grace", now).is_err());
    }

    #[test]
    fn a_success_forgives_the_count() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_ATTEMPTS {
            throttle.attempt("Grace", now).unwrap();
        }
        throttle.succeeded("Grace");
        assert!(throttle.attempt("Grace", now).is_ok());
    }

    #[test]
    fn an_attempt_without_a_verdict_does_not_count() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_ATTEMPTS {
            throttle.attempt("Grace", now).unwrap();
            throttle.undo("Grace");
        }
        assert!(throttle.attempt("Grace", now).is_ok());
    }

    #[test]
    fn a_flood_of_names_stays_bounded_and_forgets_the_oldest_first() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_ATTEMPTS {
            throttle.attempt("first", start).unwrap();
        }
        for n in 0..MAX_NAMES {
            let now = start + Duration::from_millis(1 + n as u64);
            throttle.attempt(&format!("name-{n}"), now).unwrap();
        }
        assert_eq!(throttle.tracked(), MAX_NAMES);
        // "first" was the oldest and was forgotten to make room.
        assert!(throttle
            .attempt("first", start + Duration::from_secs(11))
            .is_ok());
    }
}
