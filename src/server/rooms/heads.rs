//! A room's head wherever it is: in the hub's memory, or in the store for a room that left
//! memory ([`crate::server::hub::residency`]), and the join that brings such a room back.

use std::sync::Arc;

use crate::protocol::User;
use crate::server::hub::fanout::{Joined, NotInMemory};
use crate::server::hub::mailbox::Subscriber;
use crate::server::hub::residency::TooManyRooms;
use crate::server::state::Core;
use crate::server::store::StoreError;

/// Why a join did not happen.
#[derive(Debug, thiserror::Error)]
pub enum JoinFailed {
    /// The store could not say where the room's history ends.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every room in memory is in use.
    #[error(transparent)]
    TooManyRooms(#[from] TooManyRooms),
}

/// The last seq of `room`: the hub's while the room is in memory (what its members have been
/// sent), the store's once it has left.
pub async fn room_head(core: &Core, room: &str) -> Result<u64, StoreError> {
    match core.hub.head_in_memory(room) {
        Some(head) => Ok(head),
        None => core.store.head(room).await,
    }
}

/// Joins `room` through the broker, bringing the room back into memory at the store's head
/// first if it is not there.
pub async fn join(
    core: &Core,
    room: &str,
    subscriber: &Subscriber,
    user: &Arc<User>,
) -> Result<Joined, JoinFailed> {
    loop {
        match core.broker.join(room, subscriber.clone(), user) {
            Ok(joined) => return Ok(joined),
            // Tried again after the restore: the sweep may take the room out in between,
            // if the idle time is zero, and the join then finds it gone again.
            Err(NotInMemory) => {
                let head = core.store.head(room).await?;
                core.hub.restore(room, head)?;
            }
        }
    }
}
