//! Every live connection and whose it is, so that one call can reach all of a person's
//! connections (logout, a notice for one user) or everyone's (shutdown, a notice for all).
//! How many one person may hold is capped apart from this, from the upgrade request on
//! (src/server/hub/socket_quota.rs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::server::transport::encoded_frame::EncodedFrame;

use crate::protocol::User;
use crate::server::hub::mailbox::{ConnectionId, Delivery, Offer, Stop, Subscriber, TO_CONNECTION};

#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Whose each connection is: the user shared with the connection task and the hub.
    live: HashMap<ConnectionId, (Arc<User>, Subscriber)>,
}

impl ConnectionRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connection of `user_id`; the connection task removes it with
    /// [`ConnectionRegistry::remove`] as it ends.
    pub fn add(&self, user: Arc<User>, subscriber: Subscriber) {
        self.lock().live.insert(subscriber.id, (user, subscriber));
    }

    pub fn remove(&self, id: ConnectionId) {
        self.lock().live.remove(&id);
    }

    /// Tells every live connection to stop, for `why`.
    pub fn stop_all(&self, why: Stop) {
        for (_, subscriber) in self.lock().live.values() {
            subscriber.stop(why);
        }
    }

    /// Tells every live connection of `user_id` to stop; returns how many there were.
    pub fn stop_user(&self, user_id: &str, why: Stop) -> usize {
        let state = self.lock();
        let theirs = state.live.values().filter(|(user, _)| user.id == user_id);
        theirs.map(|(_, subscriber)| subscriber.stop(why)).count()
    }

    /// Queues `frame` for every live connection, or only `user_id`'s; returns how many
    /// took it. Not a room message: the socket writes it whatever rooms it joined.
    pub fn send(&self, frame: &str, user_id: Option<&str>) -> usize {
        let delivery = Delivery::single(TO_CONNECTION, EncodedFrame::text(frame));
        let state = self.lock();
        state
            .live
            .values()
            .filter(|(user, _)| user_id.is_none_or(|wanted| user.id == wanted))
            .filter(|(_, subscriber)| subscriber.offer(delivery.clone()) == Offer::Queued)
            .count()
    }

    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::mailbox::mailbox;

    fn user(id: &str) -> Arc<User> {
        Arc::new(User {
            id: id.into(),
            name: id.into(),
        })
    }

    #[test]
    fn stop_all_reaches_every_live_connection_and_no_removed_one() {
        let connections = ConnectionRegistry::new();
        let (a, mailbox_a) = mailbox(1, 4);
        let (b, mailbox_b) = mailbox(2, 4);
        connections.add(user("u-a"), a);
        connections.add(user("u-b"), b);
        connections.remove(2);
        assert_eq!(connections.len(), 1);
        connections.stop_all(Stop::ShuttingDown);
        assert_eq!(mailbox_a.stopped(), Some(Stop::ShuttingDown));
        assert_eq!(mailbox_b.stopped(), None);
    }

    #[test]
    fn stop_user_and_send_reach_only_that_persons_connections() {
        let connections = ConnectionRegistry::new();
        let (a1, mut tab1) = mailbox(1, 4);
        let (a2, tab2) = mailbox(2, 4);
        let (b, mut other) = mailbox(3, 4);
        connections.add(user("u-a"), a1);
        connections.add(user("u-a"), a2);
        connections.add(user("u-b"), b);
        assert_eq!(connections.send("{}", Some("u-a")), 2);
        assert!(tab1.try_recv().is_some());
        assert!(other.try_recv().is_none());
        assert_eq!(connections.send("{}", None), 3);
        assert_eq!(connections.stop_user("u-a", Stop::LoggedOut), 2);
        assert_eq!(tab2.stopped(), Some(Stop::LoggedOut));
        assert_eq!(other.stopped(), None);
        assert!(other.try_recv().is_some());
    }
}
