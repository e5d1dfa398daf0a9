//! Storing a batch on PostgreSQL, with several nodes possibly storing into the same rooms at
//! the same moment. One transaction:
//!
//! 1. looks up the batch's (author, client_id) pairs already stored, by any node: those are
//!    answered with the stored copy, as is a pair repeated within the batch;
//! 2. raises each room's counter row (`room_heads`) by the number of new messages, rooms in
//!    name order so two batches lock them in the same order. The row stays locked until
//!    COMMIT: another node writing the room waits and then continues from the committed head.
//!    A rolled-back batch raised nothing, so seqs stay gap-free;
//! 3. inserts the new messages with their seqs, and commits. Only then does the caller hear of
//!    it (and ack).
//!
//! Two nodes storing the same retry at once both miss it in step 1; the second insert waits on
//! the first's unique index entry and fails once the first commits. That batch is run again,
//! and step 1 then finds the copy.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::PgPool;
use sqlx::Row;

use crate::protocol::ChatMessage;
use crate::server::store::sql::{message_from_row, to_i64, MESSAGE_COLUMNS};
use crate::server::store::{Appended, NewMessage, StoreError};

/// The unique index that makes a retried send a duplicate (migrations/postgres/0001_schema.sql).
const AUTHOR_CLIENT_ID_INDEX: &str = "messages_author_client_id";

/// Runs of a batch before its error is given up on; each retry is caused by another node
/// committing the same message or locking rooms in between, so one or two suffice.
const ATTEMPTS: u32 = 5;

/// Stores `batch` (see [`crate::server::store::Store::append`]), running it again when another
/// node's commit of the same retry, or a deadlock with one, got in the way.
pub(super) async fn append(
    pool: &PgPool,
    batch: &[NewMessage],
) -> Result<Vec<Appended>, StoreError> {
    let mut attempt = 1;
    loop {
        match append_once(pool, batch).await {
            Err(err) if attempt < ATTEMPTS && raced_another_node(&err) => attempt += 1,
            outcome => return outcome.map_err(StoreError::from),
        }
    }
}

/// Whether `err` means a concurrent transaction got in the way, so running the batch again
/// gives a different outcome: a retry stored meanwhile (unique violation on the author's
/// client id), or a deadlock or serialization failure.
fn raced_another_node(err: &sqlx::Error) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    match db.code().as_deref() {
        Some("23505") => db.constraint() == Some(AUTHOR_CLIENT_ID_INDEX),
        Some("40P01") | Some("40001") => true,
        _ => false,
    }
}

/// What becomes of one message of the batch.
enum Plan {
    /// Already stored (by any node, earlier): answered with that copy.
    Stored(ChatMessage),
    /// New: the `n`th new message of the batch.
    New(usize),
    /// Repeats the `n`th new message of this batch.
    Repeats(usize),
}

async fn append_once(pool: &PgPool, batch: &[NewMessage]) -> Result<Vec<Appended>, sqlx::Error> {
    let mut tx = pool.begin().await?;

    let authors: Vec<&str> = batch.iter().map(|m| m.user.id.as_str()).collect();
    let client_ids: Vec<&str> = batch.iter().map(|m| m.client_id.as_str()).collect();
    let earlier: HashMap<(String, String), ChatMessage> = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE (author_id, client_id) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))"
    ))
    .bind(&authors)
    .bind(&client_ids)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|row| {
        let message = message_from_row(row).map_err(|err| sqlx::Error::Decode(err.into()))?;
        Ok((
            (message.user.id.clone(), message.client_id.clone()),
            message,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;

    let mut plans = Vec::with_capacity(batch.len());
    let mut fresh: Vec<&NewMessage> = Vec::new();
    let mut in_batch: HashMap<(&str, &str), usize> = HashMap::new();
    let mut per_room: BTreeMap<&str, i64> = BTreeMap::new();
    for message in batch {
        let key = (message.user.id.as_str(), message.client_id.as_str());
        let plan = if let Some(stored) = earlier.get(&(key.0.to_owned(), key.1.to_owned())) {
            Plan::Stored(stored.clone())
        } else if let Some(&n) = in_batch.get(&key) {
            Plan::Repeats(n)
        } else {
            in_batch.insert(key, fresh.len());
            *per_room.entry(message.room.as_str()).or_default() += 1;
            fresh.push(message);
            Plan::New(fresh.len() - 1)
        };
        plans.push(plan);
    }

    let mut next_seq: HashMap<String, i64> = HashMap::new();
    if !per_room.is_empty() {
        let rooms: Vec<&str> = per_room.keys().copied().collect();
        let counts: Vec<i64> = per_room.values().copied().collect();
        let heads = sqlx::query(
            "INSERT INTO room_heads (room, head) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[]) \
             ON CONFLICT (room) DO UPDATE SET head = room_heads.head + excluded.head \
             RETURNING room, head",
        )
        .bind(&rooms)
        .bind(&counts)
        .fetch_all(&mut *tx)
        .await?;
        for row in heads {
            let room: String = row.try_get("room")?;
            let head: i64 = row.try_get("head")?;
            let first = head - per_room[room.as_str()] + 1;
            next_seq.insert(room, first);
        }
    }

    let mut stored = Vec::with_capacity(fresh.len());
    for message in &fresh {
        let seq = next_seq
            .get_mut(&message.room)
            .ok_or_else(|| sqlx::Error::Protocol(format!("no head for {}", message.room)))?;
        stored.push(ChatMessage {
            room: message.room.clone(),
            seq: u64::try_from(*seq).unwrap_or(0),
            id: message.id.clone(),
            client_id: message.client_id.clone(),
            user: message.user.clone(),
            text: message.text.clone(),
            ts: message.ts,
        });
        *seq += 1;
    }
    if !stored.is_empty() {
        insert(&mut tx, &stored).await?;
    }
    tx.commit().await?;

    Ok(plans
        .into_iter()
        .map(|plan| match plan {
            Plan::Stored(message) => Appended::Duplicate(message),
            Plan::New(n) => Appended::Stored(stored[n].clone()),
            Plan::Repeats(n) => Appended::Duplicate(stored[n].clone()),
        })
        .collect())
}

/// Inserts `messages` in one statement, a column array each.
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    messages: &[ChatMessage],
) -> Result<(), sqlx::Error> {
    let column = |get: fn(&ChatMessage) -> &str| messages.iter().map(get).collect::<Vec<_>>();
    let seqs: Vec<i64> = messages.iter().map(|m| to_i64(m.seq)).collect();
    let stamps: Vec<i64> = messages.iter().map(|m| m.ts).collect();
    sqlx::query(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT * FROM UNNEST(\
         $1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::bigint[])"
    ))
    .bind(column(|m| &m.room))
    .bind(&seqs)
    .bind(column(|m| &m.id))
    .bind(column(|m| &m.client_id))
    .bind(column(|m| &m.user.id))
    .bind(column(|m| &m.user.name))
    .bind(column(|m| &m.text))
    .bind(&stamps)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
