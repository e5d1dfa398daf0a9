//! At most so many events per key in each window: new guest sessions, registrations and logins
//! per client address, new rooms per person.
//!
//! A fixed window that starts with a key's first event: simple to reason about ("5 a minute"),
//! and a key's count is one small entry. The table is bounded: a flood of distinct keys (a
//! botnet, an IPv6 sweep) forgets expired counts first and then the oldest, so memory stays
//! flat; forgetting only ever lets a key through sooner, never refuses one wrongly.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys counted at once per limit.
const MAX_KEYS: usize = 10_000;

pub struct WindowLimit<K> {
    /// Events allowed per key and window; 0 allows any number.
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<K, Count>>,
}

#[derive(Clone, Copy)]
struct Count {
    events: u32,
    since: Instant,
}

impl<K: Hash + Eq + Clone> WindowLimit<K> {
    pub fn new(limit: u32, window: Duration) -> Self {
        WindowLimit {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `limit` a minute.
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// Counts an event for `key`, or refuses it with how long until the key's window ends.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts
            .get_mut(key)
            .filter(|count| now < count.since + self.window)
        {
            if count.events >= self.limit {
                return Err(count.since + self.window - now);
            }
            count.events += 1;
            return Ok(());
        }
        if !counts.contains_key(key) {
            self.make_room(&mut counts, now);
        }
        counts.insert(
            key.clone(),
            Count {
                events: 1,
                since: now,
            },
        );
        Ok(())
    }

    /// Keys counted now (expired ones included until they are swept).
    pub fn tracked(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn make_room(&self, counts: &mut HashMap<K, Count>, now: Instant) {
        if counts.len() < MAX_KEYS {
            return;
        }
        counts.retain(|_, count| now < count.since + self.window);
        if counts.len() < MAX_KEYS {
            return;
        }
        let oldest = counts
            .iter()
            .min_by_key(|(_, count)| count.since)
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            counts.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_key_gets_its_limit_per_window_and_is_told_when_the_window_ends() {
        let limit = WindowLimit::per_minute(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.take(&"a", start), Ok(()));
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(limit.take(&"a", later), Err(Duration::from_secs(40)));
        // Other keys have budgets of their own.
        assert_eq!(limit.take(&"b", later), Ok(()));
        // A new window, a new budget.
        assert_eq!(limit.take(&"a", start + MINUTE), Ok(()));
    }

    #[test]
    fn zero_allows_everything() {
        let limit = WindowLimit::per_minute(0);
        let now = Instant::now();
        for _ in 0..1_000 {
            assert_eq!(limit.take(&"a", now), Ok(()));
        }
        assert_eq!(limit.tracked(), 0);
    }

    #[test]
    fn a_flood_of_keys_keeps_the_table_bounded() {
        let limit = WindowLimit::per_minute(1);
        let start = Instant::now();
        for key in 0..MAX_KEYS + 500 {
            assert_eq!(
                limit.take(&key, start + Duration::from_millis(key as u64)),
                Ok(())
            );
        }
        assert!(limit.tracked() <= MAX_KEYS, "{}", limit.tracked());
        // The most recent keys are still counted.
        let last = MAX_KEYS + 499;
        assert!(limit.take(&last, start + MINUTE / 2).is_err());
    }
}
