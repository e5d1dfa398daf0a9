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
use std::sync::{PoisonError, RwLock};

use sqlx::{Row, SqlitePool};

use crate::protocol::{is_dm_room, RoomEntry, RoomKind, User, DM_ROOM_PREFIX, LOBBY};
use crate::server::auth::signing::sha256_hex;
use crate::server::clock::unix_millis;
use crate::server::store::StoreError;

pub struct Directory {
    pool: SqlitePool,
    known: RwLock<HashMap<String, Access>>,
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
    #[error("room {0:?} is private")]
    Private(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for Denied {
    fn from(err: sqlx::Error) -> Self {
        Denied::Store(err.into())
    }
}

impl Directory {
    pub fn new(pool: SqlitePool) -> Self {
        Directory {
            pool,
            known: RwLock::new(HashMap::new()),
        }
    }

    /// Checks that `user_id` may read and write `room`, creating it as a public room if it
    /// does not exist yet (and is not a DM name).
    pub async fn authorize(&self, room: &str, user_id: &str) -> Result<RoomKind, Denied> {
        match self.access(room).await? {
            Some(Access::Public) => Ok(RoomKind::Public),
            Some(Access::Dm(members)) if members.iter().any(|m| m == user_id) => Ok(RoomKind::Dm),
            Some(Access::Dm(_)) => Err(Denied::Private(room.to_owned())),
            None if is_dm_room(room) => Err(Denied::Private(room.to_owned())),
            None => {
                self.insert_public(room).await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO rooms (name, kind, created_at) VALUES (?, 'dm', ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&room)
        .bind(unix_millis())
        .execute(&mut *tx)
        .await?;
        for person in [me, other] {
            sqlx::query(
                "INSERT INTO room_members (room, user_id, user_name) VALUES (?, ?, ?) \
                 ON CONFLICT (room, user_id) DO UPDATE SET user_name = excluded.user_name",
            )
            .bind(&room)
            .bind(&person.id)
            .bind(&person.name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.remember(&room, Access::Dm(sorted([me.id.clone(), other.id.clone()])));
        Ok(room)
    }

    /// Puts `room` on `user`'s room list (a no-op if it is there).
    pub async fn add_to_list(&self, room: &str, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO room_members (room, user_id, user_name) VALUES (?, ?, ?) \
             ON CONFLICT (room, user_id) DO NOTHING",
        )
        .bind(room)
        .bind(&user.id)
        .bind(&user.name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a public room off `user_id`'s list. DMs stay: leaving a DM would lock the
    /// person out of it.
    pub async fn remove_from_list(&self, room: &str, user_id: &str) -> Result<(), StoreError> {
        if is_dm_room(room) {
            return Ok(());
        }
        sqlx::query("DELETE FROM room_members WHERE room = ? AND user_id = ?")
            .bind(room)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `user_id` has read `room` up to `seq` (never moves backwards).
    pub async fn mark_read(&self, room: &str, user_id: &str, seq: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE room_members SET last_read = MAX(last_read, ?) WHERE room = ? AND user_id = ?",
        )
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(room)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `user`'s room list, the lobby first, then by name; `head` gives each room's last seq
    /// for the unread counts.
    pub async fn room_list(
        &self,
        user: &User,
        head: impl Fn(&str) -> u64,
    ) -> Result<Vec<RoomEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.room, m.last_read, r.kind, \
                    (SELECT o.user_id FROM room_members o \
                      WHERE o.room = m.room AND o.user_id <> m.user_id) AS other_id, \
                    (SELECT o.user_name FROM room_members o \
                      WHERE o.room = m.room AND o.user_id <> m.user_id) AS other_name \
             FROM room_members m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = ? ORDER BY m.room",
        )
        .bind(&user.id)
        .fetch_all(&self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len() + 1);
        let mut has_lobby = false;
        for row in rows {
            let name: String = row.try_get("room")?;
            let last_read = u64::try_from(row.try_get::<i64, _>("last_read")?).unwrap_or(0);
            let kind = match row.try_get::<String, _>("kind")?.as_str() {
                "dm" => RoomKind::Dm,
                _ => RoomKind::Public,
            };
            let with = match (kind, row.try_get::<Option<String>, _>("other_id")?) {
                (RoomKind::Dm, Some(id)) => Some(User {
                    id,
                    name: row
                        .try_get::<Option<String>, _>("other_name")?
                        .unwrap_or_default(),
                }),
                _ => None,
            };
            has_lobby |= name == LOBBY;
            let room_head = head(&name);
            let unread = room_head.saturating_sub(last_read);
            list.push(RoomEntry {
                name,
                kind,
                with,
                unread,
                head: room_head,
            });
        }
        if !has_lobby {
            list.push(RoomEntry {
                name: LOBBY.to_owned(),
                kind: RoomKind::Public,
                with: None,
                unread: 0,
                head: head(LOBBY),
            });
        }
        list.sort_by(|a, b| (a.name != LOBBY, &a.name).cmp(&(b.name != LOBBY, &b.name)));
        Ok(list)
    }

    /// The person with id `user_id`, if the server knows them (an account, or a guest with a
    /// session); the name is their latest.
    pub async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name FROM accounts WHERE id = ?1 \
             UNION ALL SELECT user_id, user_name FROM (\
               SELECT user_id, user_name FROM sessions WHERE user_id = ?1 \
               ORDER BY created_at DESC LIMIT 1) \
             LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(User {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
            }),
            None => None,
        })
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
        let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM rooms WHERE name = ?")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        let access = match kind.as_deref() {
            Some("dm") => {
                let members: Vec<String> =
                    sqlx::query_scalar("SELECT user_id FROM room_members WHERE room = ?")
                        .bind(room)
                        .fetch_all(&self.pool)
                        .await?;
                let [a, b]: [String; 2] = members.try_into().map_err(|members: Vec<String>| {
                    StoreError::Corrupt(format!("DM {room:?} has {} members", members.len()))
                })?;
                Access::Dm(sorted([a, b]))
            }
            Some(_) => Access::Public,
            // Older history without a row, or the lobby: public, unless the name says DM.
            // Given its row now, so room lists can refer to it.
            None if !is_dm_room(room) && self.has_history(room).await? => {
                self.insert_public(room).await?;
                Access::Public
            }
            None => return Ok(None),
        };
        self.remember(room, access.clone());
        Ok(Some(access))
    }

    async fn insert_public(&self, room: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (name, kind, created_at) VALUES (?, 'public', ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(room)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn has_history(&self, room: &str) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM messages WHERE room = ? LIMIT 1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some() || room == LOBBY)
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
