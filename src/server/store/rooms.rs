//! What the directory ([`crate::server::rooms::directory`]) keeps: rooms and their kinds, who
//! is on whose room list, and how far each has read.

use async_trait::async_trait;

use crate::protocol::{RoomKind, User};
use crate::server::store::StoreError;

/// One room on a person's list, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub room: String,
    pub kind: RoomKind,
    /// The last seq the person has read.
    pub last_read: u64,
    /// The other person of a DM (their latest name); `None` for a public room.
    pub with: Option<User>,
}

#[async_trait]
pub trait RoomStore: Send + Sync + 'static {
    /// The kind of `room`, if it has a row.
    async fn kind(&self, room: &str) -> Result<Option<RoomKind>, StoreError>;

    /// The user ids of a room's members (a DM's two people).
    async fn member_ids(&self, room: &str) -> Result<Vec<String>, StoreError>;

    /// Whether any message was ever stored in `room`.
    async fn has_messages(&self, room: &str) -> Result<bool, StoreError>;

    /// Gives `room` a row as a public room (a no-op if it has one).
    async fn insert_public(&self, room: &str) -> Result<(), StoreError>;

    /// Gives `room` a row as a DM with `people` as its members, in one transaction (a no-op
    /// for what exists; the members' names are updated).
    async fn insert_dm(&self, room: &str, people: [&User; 2]) -> Result<(), StoreError>;

    /// Puts `room` on `user`'s list (a no-op if it is there).
    async fn add_member(&self, room: &str, user: &User) -> Result<(), StoreError>;

    /// Takes `room` off `user_id`'s list.
    async fn remove_member(&self, room: &str, user_id: &str) -> Result<(), StoreError>;

    /// `user_id` has read `room` up to `seq`; never moves backwards.
    async fn mark_read(&self, room: &str, user_id: &str, seq: u64) -> Result<(), StoreError>;

    /// The rooms on `user_id`'s list, by name.
    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError>;

    /// The person with id `user_id`, if the server knows them (an account, or a guest with
    /// a session), by their latest name.
    async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError>;
}
