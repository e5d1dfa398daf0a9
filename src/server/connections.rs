//! Every live connection, so that one call can reach all of them: shutdown today, and later
//! server push and logout.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::server::mailbox::{ConnectionId, Stop, Subscriber};

#[derive(Debug, Default)]
pub struct Connections {
    live: Mutex<HashMap<ConnectionId, Subscriber>>,
}

impl Connections {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connection; the socket task removes it with [`Connections::remove`] as it ends.
    pub fn add(&self, subscriber: Subscriber) {
        self.lock().insert(subscriber.id, subscriber);
    }

    pub fn remove(&self, id: ConnectionId) {
        self.lock().remove(&id);
    }

    /// Tells every live connection to stop, for `why`.
    pub fn stop_all(&self, why: Stop) {
        for subscriber in self.lock().values() {
            subscriber.stop(why);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Subscriber>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::mailbox::mailbox;

    #[test]
    fn stop_all_reaches_every_live_connection_and_no_removed_one() {
        let connections = Connections::new();
        let (a, mailbox_a) = mailbox(1, 4);
        let (b, mailbox_b) = mailbox(2, 4);
        connections.add(a);
        connections.add(b);
        connections.remove(2);
        assert_eq!(connections.len(), 1);
        connections.stop_all(Stop::ShuttingDown);
        assert_eq!(mailbox_a.stopped(), Some(Stop::ShuttingDown));
        assert_eq!(mailbox_b.stopped(), None);
    }
}
