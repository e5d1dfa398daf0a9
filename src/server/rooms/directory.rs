//! Which rooms exist, what kind each is, who may use it, and whose room list holds it.
//!
//! Public rooms are open to everyone who can use the server; they come into being when first
//! joined. A direct message (DM) is a room of exactly two people, opened by one of them; only
//! those two may join, read or write it, and its name is derived from their ids so that
//! opening it again finds the same room. A room with history from before rooms had kinds is
//! public.
//!
//! Kinds and DM members never change once set, so they are cached after the first lookup:
//! authorizing a join or a history request then costs no query.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use crate::i18n::{Burst, Problem};
use crate::protocol::{is_dm_room, RoomEntry, RoomKind, User, DM_ROOM_PREFIX, LOBBY};
use crate::server::auth::signing::sha256_hex;
use crate::server::auth::whole_seconds;
use crate::server::store::rooms::{Membership, RoomStore};
use crate::server::store::StoreError;
use crate::server::window_limit::WindowLimit;

pub struct Directory {
    rooms: Arc<dyn RoomStore>,
    /// Kinds and DM members never change once set: looked up once per room.
    known: RwLock<HashMap<String, Access>>,
    /// Rooms brought into being per creator and minute (`--new-rooms-per-minute`): every
    /// new name is a row kept for ever.
    creations: WindowLimit<String>,
}

/// Who may use a room.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Access {
    Public,
    /// Only these two user ids.
    Dm([String; 2]),
}

/// Why a room may not be used.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// A DM of other people, or one that does not exist (not told apart, so that probing
    /// names reveals nothing).
    #[error("{}", Problem::RoomIsPrivate(.0.clone()))]
    Private(String),
    /// The creator has brought too many rooms into being this minute.
    #[error("{}", Problem::TooFast { what: Burst::NewRooms, seconds: *.seconds })]
    TooManyNewRooms { seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Directory {
    pub fn new(rooms: Arc<dyn RoomStore>, new_rooms_per_minute: u32) -> Self {
        Directory {
            rooms,
            known: RwLock::new(HashMap::new()),
            creations: WindowLimit::per_minute(new_rooms_per_minute),
        }
    }

    /// Checks that `user_id` may read and write `room`, creating it as a public room if it
    /// does not exist yet (and is not a DM name), counted against `creator`: the person, or
    /// for one without a session (a new id per connection) their address.
    pub async fn authorize(
        &self,
        room: &str,
        user_id: &str,
        creator: &str,
    ) -> Result<RoomKind, Denied> {
        match self.access(room).await? {
            Some(Access::Public) => Ok(RoomKind::Public),
            Some(Access::Dm(members)) if members.iter().any(|m| m == user_id) => Ok(RoomKind::Dm),
            Some(Access::Dm(_)) => Err(Denied::Private(room.to_owned())),
            None if is_dm_room(room) => Err(Denied::Private(room.to_owned())),
            None => {
                self.creations
                    .take(&creator.to_owned(), Instant::now())
                    .map_err(|wait| Denied::TooManyNewRooms {
                        seconds: whole_seconds(wait),
                    })?;
                self.rooms.insert_public(room).await?;
                self.remember(room, Access::Public);
                Ok(RoomKind::Public)
            }
        }
    }

    /// Checks that `user_id` (`None`: a visitor without identity) may read `room`, without
    /// creating it.
    pub async fn may_read(&self, room: &str, user_id: Option<&str>) -> Result<bool, StoreError> {
        Ok(match self.access(room).await? {
            Some(Access::Public) => true,
            Some(Access::Dm(members)) => user_id.is_some_and(|u| members.iter().any(|m| m == u)),
            None => !is_dm_room(room),
        })
    }

    /// The DM between `me` and `other`, opened (with both of them as members) if new.
    pub async fn open_dm(&self, me: &User, other: &User) -> Result<String, StoreError> {
        let room = dm_room_name(&me.id, &other.id);
        self.rooms.insert_dm(&room, [me, other]).await?;
        self.remember(&room, Access::Dm(sorted([me.id.clone(), other.id.clone()])));
        Ok(room)
    }

    /// Puts `room` on `user`'s room list (a no-op if it is there).
    pub async fn add_to_list(&self, room: &str, user: &User) -> Result<(), StoreError> {
        self.rooms.add_member(room, user).await
    }

    /// Takes a public room off `user_id`'s list. DMs stay: leaving a DM would lock the
    /// person out of it.
    pub async fn remove_from_list(&self, room: &str, user_id: &str) -> Result<(), StoreError> {
        if is_dm_room(room) {
            return Ok(());
        }
        self.rooms.remove_member(room, user_id).await
    }

    /// `user_id` has read `room` up to `seq` (never moves backwards).
    pub async fn mark_read(&self, room: &str, user_id: &str, seq: u64) -> Result<(), StoreError> {
        self.rooms.mark_read(room, user_id, seq).await
    }

    /// `user`'s room list, the lobby first, then by name; `head` gives each room's last seq
    /// for the unread counts.
    pub async fn room_list(
        &self,
        user: &User,
        head: impl Fn(&str) -> u64,
    ) -> Result<Vec<RoomEntry>, StoreError> {
        let memberships = self.memberships(user).await?;
        Ok(Self::list(memberships, head))
    }

    /// The rooms on `user`'s list, as stored, for [`Directory::list`].
    pub async fn memberships(&self, user: &User) -> Result<Vec<Membership>, StoreError> {
        self.rooms.memberships(&user.id).await
    }

    /// A room list of `memberships`: the lobby first, then by name; `head` gives each room's
    /// last seq for the unread counts.
    pub fn list(memberships: Vec<Membership>, head: impl Fn(&str) -> u64) -> Vec<RoomEntry> {
        let mut list = Vec::with_capacity(memberships.len() + 1);
        let mut has_lobby = false;
        for Membership {
            room,
            kind,
            last_read,
            with,
        } in memberships
        {
            has_lobby |= room == LOBBY;
            let room_head = head(&room);
            list.push(RoomEntry {
                unread: room_head.saturating_sub(last_read),
                mentions: 0,
                head: room_head,
                name: room,
                kind,
                with,
            });
        }
        if !has_lobby {
            list.push(RoomEntry {
                name: LOBBY.to_owned(),
                kind: RoomKind::Public,
                with: None,
                unread: 0,
                mentions: 0,
                head: head(LOBBY),
            });
        }
        list.sort_by(|a, b| (a.name != LOBBY, &a.name).cmp(&(b.name != LOBBY, &b.name)));
        list
    }

    /// Whether `room` exists: someone joined it, it is a DM, or it has history.
    pub async fn exists(&self, room: &str) -> Result<bool, StoreError> {
        Ok(self.access(room).await?.is_some())
    }

    /// The person with id `user_id`, if the server knows them (an account, or a guest with a
    /// session); the name is their latest.
    pub async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        self.rooms.find_user(user_id).await
    }

    async fn access(&self, room: &str) -> Result<Option<Access>, StoreError> {
        if let Some(access) = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
        {
            return Ok(Some(access.clone()));
        }
        let access = match self.rooms.kind(room).await? {
            Some(RoomKind::Dm) => {
                let members = self.rooms.member_ids(room).await?;
                let [a, b]: [String; 2] = members.try_into().map_err(|members: Vec<String>| {
                    StoreError::Corrupt(format!("DM {room:?} has {} members", members.len()))
                })?;
                Access::Dm(sorted([a, b]))
            }
            Some(RoomKind::Public) => Access::Public,
            // Older history without a row, or the lobby: public, unless the name says DM.
            // Given its row now, so room lists can refer to it.
            None if !is_dm_room(room) && self.has_history(room).await? => {
                self.rooms.insert_public(room).await?;
                Access::Public
            }
            None => return Ok(None),
        };
        self.remember(room, access.clone());
        Ok(Some(access))
    }

    async fn has_history(&self, room: &str) -> Result<bool, StoreError> {
        Ok(room == LOBBY || self.rooms.has_messages(room).await?)
    }

    fn remember(&self, room: &str, access: Access) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room.to_owned(), access);
    }
}

/// The DM room of two people: the same whichever of them opens it, and not guessable into
/// another pair's.
pub fn dm_room_name(a: &str, b: &str) -> String {
    let [first, second] = sorted([a.to_owned(), b.to_owned()]);
    let digest = sha256_hex(&format!("{first}\n{second}"));
    format!("{DM_ROOM_PREFIX}{}", &digest[..40])
}

fn sorted(mut pair: [String; 2]) -> [String; 2] {
    pair.sort();
    pair
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dm_has_one_name_whoever_opens_it_and_is_a_valid_room_name() {
        let ab = dm_room_name("u-a", "u-b");
        assert_eq!(ab, dm_room_name("u-b", "u-a"));
        assert_ne!(ab, dm_room_name("u-a", "u-c"));
        assert!(crate::protocol::check_room_name(&ab).is_ok());
        assert!(is_dm_room(&ab));
    }
}
