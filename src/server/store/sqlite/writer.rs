//! The one connection that writes message history, used on the caller's thread: the
//! committer's, which exists for this (src/server/history/committer.rs).
//!
//! Group commit hands over a batch at a time; it is stored with single-row prepared
//! statements that stay compiled for the life of the connection, all in one synchronous run on
//! one thread. Going through sqlx's async worker instead costs a channel round trip per
//! statement (~140 µs on a small VM), which capped durable throughput at about 10,000
//! messages/s; here a batch costs a few µs per message plus one fsync.
//!
//! The connection used to have a thread of its own as well, so each batch crossed two threads
//! and back. On two busy cores every crossing waits for the kernel to run the other thread: at
//! 10,000 subscribers a commit whose fsync takes 0.2 ms took up to 12 ms, crossings included.
//!
//! The writer also keeps each room's head seq in memory. It is the only writer, so the cache
//! cannot go stale; a room is read from the file once, the first time it is written.
//!
//! Checkpoints (copying the WAL back into the database file) are taken off the writing thread:
//! with automatic checkpoints, every thousandth page made one commit — and every ack waiting on
//! it — pay for copying and syncing the whole WAL. A checkpointer thread with its own connection
//! does that beside the writer instead.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::protocol::{ChatMessage, User};
use crate::server::store::sql::{seq_from_column, to_i64};
use crate::server::store::{Appended, NewMessage, StoreError};

/// The shortest time between two checkpoints; a commit never waits for a passive one.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// WAL pages past which the checkpointer restarts the log. SQLite only rewinds the WAL when a
/// write begins with every frame already copied back, which a passive checkpoint racing a
/// busy writer never achieves: under steady load the file would grow forever. A RESTART
/// checkpoint waits for the current write, copies everything and makes the next write rewind;
/// 4,096 pages (16 MiB) makes that brief stall rare.
const RESTART_AFTER_PAGES: i64 = 4_096;

/// What a rewound WAL file is truncated to, so one burst does not keep its disk space.
const WAL_SIZE_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// How long a statement waits on a lock before failing (a backup tool holding the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writing connection. Closing it lets the checkpointer finish and end.
pub struct Writer {
    /// `None` once closed. A mutex, not a thread of its own: there is one caller (the
    /// committer), so it is never contended in the server; tests may call from anywhere.
    state: Mutex<Option<WriterState>>,
    /// The checkpointer's thread, joined by `close`.
    checkpointer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Writer {
    /// Opens the writer's and the checkpointer's connections to the (already migrated) file
    /// at `path` and starts the checkpointer's thread.
    pub fn start(path: &Path) -> Result<Writer, StoreError> {
        let connection = open(path)?;
        // Commits must never checkpoint: the checkpointer thread does it.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
        let checkpointer = open(path)?;

        // Closing the writer drops its sender, which ends the checkpointer.
        let (commits, committed) = mpsc::sync_channel::<()>(1);
        let checkpointing = thread::Builder::new()
            .name("history-checkpointer".into())
            .spawn(move || {
                checkpoint_loop(&committed, CHECKPOINT_EVERY, || {
                    checkpoint_and_restart(&checkpointer)
                })
            })
            .map_err(|err| StoreError::Writer(err.to_string()))?;
        Ok(Writer {
            state: Mutex::new(Some(WriterState {
                connection,
                heads: HashMap::new(),
                commits,
            })),
            checkpointer: Mutex::new(Some(checkpointing)),
        })
    }

    /// Stores `batch` in one transaction on the calling thread, which waits for the commit's
    /// fsync: call it from a thread that may block (the committer's).
    pub fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        match &mut *lock(&self.state) {
            Some(state) => state.append(batch),
            None => Err(StoreError::Writer("the history writer is closed".into())),
        }
    }

    /// Stops taking batches, and returns once both connections are closed. A batch being
    /// stored meanwhile finishes first (it holds the lock).
    pub async fn close(&self) {
        drop(lock(&self.state).take());
        let checkpointer = lock(&self.checkpointer).take();
        if let Some(checkpointer) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || checkpointer.join()).await;
        }
    }
}

/// The state is left whole by every code path (a failed transaction rolls back), so a panic
/// elsewhere need not poison the writer.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // Both are per connection. FULL: a commit is on disk before its acks go out, so an
    // acknowledged message survives a power cut, not only a crash; group commit pays that
    // one fsync per batch.
    connection.pragma_update(None, "journal_mode", "wal")?;
    connection.pragma_update(None, "synchronous", "full")?;
    Ok(connection)
}

/// Calls `checkpoint` after commits, at most once per `rest`, until the writer ends.
///
/// Commits that arrive while it rests are noted, not acted on: the checkpoint after the rest
/// takes them all. (Waking for each of them made a checkpoint, and its syncs, after nearly
/// every commit: 4 % of the server's CPU at 1,600 messages/s.)
fn checkpoint_loop(committed: &mpsc::Receiver<()>, rest: Duration, mut checkpoint: impl FnMut()) {
    let mut due = committed.recv().is_ok();
    while due {
        checkpoint();
        let Some(committed_meanwhile) = rest_noting_commits(committed, rest) else {
            return;
        };
        due = committed_meanwhile || committed.recv().is_ok();
    }
}

/// Waits out `rest`; returns whether a commit arrived meanwhile, or `None` once the writer is
/// gone (so that `close` does not wait for the rest to end).
fn rest_noting_commits(committed: &mpsc::Receiver<()>, rest: Duration) -> Option<bool> {
    let until = Instant::now() + rest;
    let mut noted = false;
    loop {
        match committed.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(()) => noted = true,
            Err(mpsc::RecvTimeoutError::Timeout) => return Some(noted),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// A passive checkpoint, and a restart of the log once it has grown past
/// [`RESTART_AFTER_PAGES`].
fn checkpoint_and_restart(connection: &Connection) {
    // PASSIVE never waits for the writer or readers; what it cannot copy now it copies
    // next time.
    match checkpoint(connection, "PASSIVE") {
        Ok(wal_pages) if wal_pages > RESTART_AFTER_PAGES => {
            if let Err(err) = checkpoint(connection, "RESTART") {
                tracing::warn!(%err, "WAL restart failed; the next checkpoint will retry");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "WAL checkpoint failed; the next one will retry"),
    }
}

/// Runs one checkpoint; returns the WAL's size in pages as it was.
fn checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<i64> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        row.get(1)
    })
}

struct WriterState {
    connection: Connection,
    /// Last seq of each room written so far (or read from the file on first use).
    heads: HashMap<String, u64>,
    /// Wakes the checkpointer; full means it is already due to run.
    commits: mpsc::SyncSender<()>,
}

impl WriterState {
    fn append(&mut self, batch: Vec<NewMessage>) -> Result<Vec<Appended>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // IMMEDIATE takes the write lock up front, so a competing writer (a backup tool) is
        // waited for under the busy timeout instead of failing the upgrade midway.
        let tx = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Heads move only once the transaction commits.
        let mut heads: HashMap<String, u64> = HashMap::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        for message in batch {
            // The lookup runs inside the transaction, so it also finds a copy inserted earlier
            // in this same batch.
            if let Some(first) = stored_copy(&tx, &message.user.id, &message.client_id)? {
                outcomes.push(Appended::Duplicate(first));
                continue;
            }
            let head = match heads.get_mut(&message.room) {
                Some(head) => head,
                None => {
                    let known = match self.heads.get(&message.room) {
                        Some(&head) => head,
                        None => head_in_file(&tx, &message.room)?,
                    };
                    heads.entry(message.room.clone()).or_insert(known)
                }
            };
            *head += 1;
            let stored = ChatMessage {
                room: message.room,
                seq: *head,
                id: message.id,
                client_id: message.client_id,
                user: message.user,
                text: message.text,
                ts: message.ts,
            };
            insert(&tx, &stored)?;
            outcomes.push(Appended::Stored(stored));
        }
        tx.commit()?;
        self.heads.extend(heads);
        let _ = self.commits.try_send(());
        Ok(outcomes)
    }
}

fn stored_copy(
    tx: &Transaction,
    author_id: &str,
    client_id: &str,
) -> Result<Option<ChatMessage>, StoreError> {
    let mut lookup = tx.prepare_cached(
        "SELECT room, seq, id, author_name, text, ts FROM messages \
         WHERE author_id = ?1 AND client_id = ?2",
    )?;
    let found = lookup
        .query_row(params![author_id, client_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    found
        .map(|(room, seq, id, name, text, ts)| {
            Ok(ChatMessage {
                room,
                seq: seq_from_column(seq)?,
                id,
                client_id: client_id.to_owned(),
                user: User {
                    id: author_id.to_owned(),
                    name,
                },
                text,
                ts,
            })
        })
        .transpose()
}

fn head_in_file(tx: &Transaction, room: &str) -> Result<u64, StoreError> {
    let head: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = ?1")?
        .query_row([room], |row| row.get(0))?;
    Ok(u64::try_from(head).unwrap_or(0))
}

fn insert(tx: &Transaction, m: &ChatMessage) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO messages (room, seq, id, client_id, author_id, author_name, text, ts) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.room,
        to_i64(m.seq),
        m.id,
        m.client_id,
        m.user.id,
        m.user.name,
        m.text,
        m.ts
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::checkpoint_loop;

    /// Runs the loop on a thread; each checkpoint is reported on the returned channel.
    fn start(
        rest: Duration,
    ) -> (
        mpsc::SyncSender<()>,
        mpsc::Receiver<()>,
        std::thread::JoinHandle<()>,
    ) {
        let (commits, committed) = mpsc::sync_channel(1);
        let (checkpointed, checkpoints) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            checkpoint_loop(&committed, rest, || checkpointed.send(()).unwrap())
        });
        (commits, checkpoints, thread)
    }

    const PATIENCE: Duration = Duration::from_secs(10);

    #[test]
    fn commits_during_the_rest_do_not_checkpoint_again_before_it_ends() {
        let (commits, checkpoints, thread) = start(Duration::from_secs(3600));
        commits.send(()).unwrap();
        checkpoints
            .recv_timeout(PATIENCE)
            .expect("the first commit is checkpointed");
        // `send` waits for room, so the second has been taken once the third is queued.
        commits.send(()).unwrap();
        commits.send(()).unwrap();
        commits.send(()).unwrap();
        drop(commits);
        thread.join().unwrap();
        assert_eq!(
            checkpoints.try_iter().count(),
            0,
            "no checkpoint within the rest"
        );
    }

    #[test]
    fn a_commit_during_the_rest_is_checkpointed_when_it_ends() {
        let (commits, checkpoints, thread) = start(Duration::from_millis(1));
        commits.send(()).unwrap();
        checkpoints.recv_timeout(PATIENCE).unwrap();
        commits.send(()).unwrap();
        checkpoints
            .recv_timeout(PATIENCE)
            .expect("the later commit is checkpointed too, without another commit");
        drop(commits);
        thread.join().unwrap();
    }

    #[test]
    fn the_writer_closing_ends_the_loop_even_mid_rest() {
        let (commits, checkpoints, thread) = start(Duration::from_secs(3600));
        commits.send(()).unwrap();
        checkpoints.recv_timeout(PATIENCE).unwrap();
        drop(commits);
        thread.join().unwrap();
    }
}
