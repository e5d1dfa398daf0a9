//! The in-process broker, the default: one node, so every frame goes to this node's hub and
//! registry of connections.

use std::sync::Arc;

use crate::protocol::User;
use crate::server::broker::Broker;
use crate::server::hub::fanout::Hub;
use crate::server::hub::mailbox::{ConnectionId, Stop};
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

    fn typing(&self, room: &str, user: &User) {
        self.hub.typing(room, user);
    }
}
