//! Rooms, room lists and read positions in PostgreSQL (`rooms`, `room_members`).

use async_trait::async_trait;
use sqlx::Row;

use super::PostgresStore;
use crate::protocol::{RoomKind, User};
use crate::server::clock::unix_millis;
use crate::server::store::rooms::{Membership, RoomStore};
use crate::server::store::sql::{kind_from_column, to_i64};
use crate::server::store::StoreError;

#[async_trait]
impl RoomStore for PostgresStore {
    async fn kind(&self, room: &str) -> Result<Option<RoomKind>, StoreError> {
        let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM rooms WHERE name = $1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(kind.as_deref().map(kind_from_column))
    }

    async fn member_ids(&self, room: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM room_members WHERE room = $1")
                .bind(room)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn has_messages(&self, room: &str) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM messages WHERE room = $1 LIMIT 1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn insert_public(&self, room: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (name, kind, created_at) VALUES ($1, 'public', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(room)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_dm(&self, room: &str, people: [&User; 2]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO rooms (name, kind, created_at) VALUES ($1, 'dm', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(room)
        .bind(unix_millis())
        .execute(&mut *tx)
        .await?;
        for person in people {
            sqlx::query(
                "INSERT INTO room_members (room, user_id, user_name) VALUES ($1, $2, $3) \
                 ON CONFLICT (room, user_id) DO UPDATE SET user_name = excluded.user_name",
            )
            .bind(room)
            .bind(&person.id)
            .bind(&person.name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_member(&self, room: &str, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO room_members (room, user_id, user_name) VALUES ($1, $2, $3) \
             ON CONFLICT (room, user_id) DO NOTHING",
        )
        .bind(room)
        .bind(&user.id)
        .bind(&user.name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_member(&self, room: &str, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM room_members WHERE room = $1 AND user_id = $2")
            .bind(room)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_read(&self, room: &str, user_id: &str, seq: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE room_members SET last_read = GREATEST(last_read, $1) WHERE room = $2 AND user_id = $3",
        )
        .bind(to_i64(seq))
        .bind(room)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.room, m.last_read, r.kind, \
                    (SELECT o.user_id FROM room_members o \
                      WHERE o.room = m.room AND o.user_id <> m.user_id) AS other_id, \
                    (SELECT o.user_name FROM room_members o \
                      WHERE o.room = m.room AND o.user_id <> m.user_id) AS other_name \
             FROM room_members m JOIN rooms r ON r.name = m.room \
             WHERE m.user_id = $1 ORDER BY m.room",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = kind_from_column(&row.try_get::<String, _>("kind")?);
            let with = match (kind, row.try_get::<Option<String>, _>("other_id")?) {
                (RoomKind::Dm, Some(id)) => Some(User {
                    id,
                    name: row
                        .try_get::<Option<String>, _>("other_name")?
                        .unwrap_or_default(),
                }),
                _ => None,
            };
            list.push(Membership {
                room: row.try_get("room")?,
                kind,
                last_read: u64::try_from(row.try_get::<i64, _>("last_read")?).unwrap_or(0),
                with,
            });
        }
        Ok(list)
    }

    async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name FROM (\
               (SELECT id, name, 0 AS rank FROM accounts WHERE id = $1) \
               UNION ALL \
               (SELECT user_id, user_name, 1 FROM sessions WHERE user_id = $1 \
                ORDER BY created_at DESC LIMIT 1)) AS known \
             ORDER BY rank LIMIT 1",
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
}
