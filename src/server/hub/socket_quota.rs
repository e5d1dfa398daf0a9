//! A cap on how many sockets one holder may have open at once: one person, or one client
//! address. A place is taken at the upgrade request, before the socket exists, so parallel
//! upgrades cannot slip past the cap; it is given back when the [`Place`] drops, as the
//! connection ends (or the upgrade fails).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The places one socket holds, given back together as it ends: under its person's cap
/// (people with a session), and under its client address's cap (when the limit is on and the
/// address is known).
#[derive(Debug, Default)]
pub struct Admission {
    pub person: Option<Place<Arc<str>>>,
    pub address: Option<Place<IpAddr>>,
}

#[derive(Debug)]
pub struct SocketQuota<K: Hash + Eq> {
    /// Places taken per holder; holders with none are removed, so the map holds only those
    /// with a socket open or opening.
    taken: Mutex<HashMap<K, usize>>,
}

/// A place taken under a holder's cap; dropping it gives the place back.
#[derive(Debug)]
pub struct Place<K: Hash + Eq + Clone> {
    quota: Arc<SocketQuota<K>>,
    holder: K,
}

impl<K: Hash + Eq> Default for SocketQuota<K> {
    fn default() -> Self {
        SocketQuota {
            taken: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone> SocketQuota<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Takes one of `holder`'s at most `cap` places, or `None` if it holds them all.
    pub fn admit(self: &Arc<Self>, holder: K, cap: usize) -> Option<Place<K>> {
        let mut taken = self.lock();
        let count = taken.entry(holder.clone()).or_insert(0);
        if *count >= cap {
            if *count == 0 {
                taken.remove(&holder);
            }
            return None;
        }
        *count += 1;
        Some(Place {
            quota: self.clone(),
            holder,
        })
    }

    /// Places `holder` has taken.
    pub fn taken_by(&self, holder: &K) -> usize {
        self.lock().get(holder).copied().unwrap_or(0)
    }

    /// Holders with at least one place.
    pub fn holders(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, usize>> {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq + Clone> Drop for Place<K> {
    fn drop(&mut self) {
        let mut taken = self.quota.lock();
        if let Some(count) = taken.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                taken.remove(&self.holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_places_per_holder_and_frees_them_on_drop() {
        let quota = SocketQuota::<&str>::new();
        let first = quota.admit("u-a", 2).unwrap();
        let _second = quota.admit("u-a", 2).unwrap();
        assert!(quota.admit("u-a", 2).is_none(), "the cap holds");
        assert!(quota.admit("u-b", 2).is_some(), "per holder");
        drop(first);
        assert_eq!(quota.taken_by(&"u-a"), 1);
        assert!(quota.admit("u-a", 2).is_some(), "a place came back");
    }

    #[test]
    fn holders_without_places_are_forgotten() {
        let quota = SocketQuota::<u32>::new();
        let places: Vec<_> = (0..100)
            .map(|holder| quota.admit(holder, 1).unwrap())
            .collect();
        assert_eq!(quota.holders(), 100);
        drop(places);
        assert_eq!(quota.holders(), 0);
        assert!(quota.admit(7, 0).is_none(), "a cap of 0 admits nobody");
        assert_eq!(quota.holders(), 0, "nor keeps a refused holder");
    }
}
