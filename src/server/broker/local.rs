//! The in-process broker, the default: one node, so every frame goes to this node's hub and
//! registry of connections.

use std::sync::Arc;

use crate::protocol::User;
use crate::server::broker::Broker;
use crate::server::hub::fanout::{Hub, Joined, NotInMemory};
use crate::server::hub::mailbox::{ConnectionId, Stop, Subscriber};
use crate::server::hub::registry::ConnectionRegistry;
use crate::server::store::Appended;

pub struct LocalBroker {
    hub: Arc<Hub>,
    /// Live connections by person, for frames that are not a room's.
    registry: Arc<ConnectionRegistry>,
}

impl LocalBroker {
    pub fn new(hub: Arc<Hub>, registry: Arc<ConnectionRegistry>) -> Self {
        LocalBroker { hub, registry }
    }
}

impl Broker for LocalBroker {
    fn publish_stored(&self, batch: &[Appended], answered: &[ConnectionId]) -> usize {
        self.hub
            .publish_all(batch.iter().filter_map(Appended::stored), answered)
    }

    fn send_to_people(&self, frame: &str, user_id: Option<&str>) -> usize {
        self.registry.send(frame, user_id)
    }

    fn stop_person(&self, user_id: &str, why: Stop) -> usize {
        self.registry.stop_user(user_id, why)
    }

    fn join(
        &self,
        room: &str,
        subscriber: Subscriber,
        user: &Arc<User>,
    ) -> Result<Joined, NotInMemory> {
        self.hub.join(room, subscriber, user)
    }

    fn leave(&self, rooms: &mut dyn Iterator<Item = &str>, connection: ConnectionId) {
        self.hub.leave(rooms, connection);
    }

    fn typing(&self, room: &str, user: &User) {
        self.hub.typing(room, user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;
    use crate::server::hub::mailbox::{mailbox, Mailbox};

    fn broker() -> LocalBroker {
        LocalBroker::new(Arc::new(Hub::new(&[])), Arc::new(ConnectionRegistry::new()))
    }

    fn person(id: &str) -> Arc<User> {
        Arc::new(User {
            id: id.into(),
            name: id.to_uppercase(),
        })
    }

    fn frame(mailbox: &mut Mailbox) -> ServerFrame {
        let delivery = mailbox.try_recv().expect("a queued frame");
        serde_json::from_str(delivery.frame.as_str()).unwrap()
    }

    #[test]
    fn presence_travels_through_the_broker_joins_and_leaves() {
        let broker = broker();
        let (watcher, mut watching) = mailbox(1, 8);
        broker.join("lobby", watcher, &person("w")).unwrap();
        let ada = person("ada");
        let (tab, _tab) = mailbox(2, 8);
        let joined = broker.join("lobby", tab, &ada).unwrap();
        assert_eq!(joined.online.len(), 2, "the watcher and Ada are online");
        assert_eq!(
            frame(&mut watching),
            ServerFrame::Presence {
                room: "lobby".into(),
                user: User::clone(&ada),
                online: true
            }
        );
        broker.leave(&mut std::iter::once("lobby"), 2);
        assert_eq!(
            frame(&mut watching),
            ServerFrame::Presence {
                room: "lobby".into(),
                user: User::clone(&ada),
                online: false
            }
        );
        assert!(watching.try_recv().is_none());
    }

    #[test]
    fn typing_reaches_the_room_but_not_the_typist() {
        let broker = broker();
        let ada = person("ada");
        let (a, mut ada_tab) = mailbox(1, 8);
        let (b, mut bob_tab) = mailbox(2, 8);
        broker.join("lobby", a, &ada).unwrap();
        broker.join("lobby", b, &person("bob")).unwrap();
        while ada_tab.try_recv().is_some() {} // Bob's arrival
        broker.typing("lobby", &ada);
        assert!(matches!(frame(&mut bob_tab), ServerFrame::Typing { .. }));
        assert!(ada_tab.try_recv().is_none(), "the typist is not told");
    }

    #[test]
    fn per_person_frames_and_stops_reach_only_that_persons_connections() {
        let registry = Arc::new(ConnectionRegistry::new());
        let broker = LocalBroker::new(Arc::new(Hub::new(&[])), registry.clone());
        let (a, mut ada_tab) = mailbox(1, 8);
        let (b, mut bob_tab) = mailbox(2, 8);
        registry.add(person("ada"), a);
        registry.add(person("bob"), b);
        let notice = r#"{"type":"notice","text":"hi","from":"ops"}"#;
        assert_eq!(broker.send_to_people(notice, Some("ada")), 1);
        assert_eq!(ada_tab.try_recv().unwrap().frame.as_str(), notice);
        assert!(bob_tab.try_recv().is_none(), "Bob was not addressed");
        assert_eq!(broker.send_to_people(notice, None), 2, "everyone");
        assert_eq!(broker.stop_person("bob", Stop::LoggedOut), 1);
        assert_eq!(bob_tab.stopped(), Some(Stop::LoggedOut));
        assert_eq!(ada_tab.stopped(), None);
    }
}
