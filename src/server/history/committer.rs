//! Group commit: the one writer of message history.
//!
//! Connection tasks submit messages; a single task takes everything waiting (up to
//! [`MAX_BATCH`]), stores it in one transaction, then publishes the new messages to the hub in
//! seq order and answers every submitter. One fsync then covers a whole batch, so throughput
//! grows with load instead of being capped by the disk's sync rate, and an ack never precedes
//! its commit.

use std::sync::Arc;

use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::server::broker::Broker;
use crate::server::history::commit_health::CommitHealth;
use crate::server::history::commit_pacing::CommitPacing;
use crate::server::history::doorbell::{doorbell, Bell, Ringer};
use crate::server::hub::mailbox::ConnectionId;
use crate::server::store::{Appended, NewMessage, Store};

/// Most messages stored in one transaction. Bounds the statement size (SQLite allows 32,766
/// bound parameters; a batch uses 10 per message) and the latency of the largest batch.
pub const MAX_BATCH: usize = 1_024;

/// Messages waiting for the writer before submitters wait too (backpressure).
const QUEUE_CAPACITY: usize = 8_192;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the message could not be stored: {0}")]
    Store(String),
    #[error("the server is shutting down; the message was not stored")]
    Stopped,
}

struct Job {
    /// The socket that sent it, which the answer wakes; `None` for a message from the push API.
    from: Option<ConnectionId>,
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, CommitError>>,
}

/// Cheap handle for submitting messages.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
    /// Whether the last commit succeeded, for `/readyz`.
    health: Arc<CommitHealth>,
}

/// The answer to one submission, to await later: submitting fixes the order, awaiting only
/// collects the outcome.
pub struct PendingCommit(oneshot::Receiver<Result<Appended, CommitError>>);

impl PendingCommit {
    pub async fn outcome(self) -> Result<Appended, CommitError> {
        self.0.await.unwrap_or(Err(CommitError::Stopped))
    }
}

impl Committer {
    /// Starts the writer on a thread of its own, and the publisher as a task of the current
    /// runtime (call it from within the server's runtime). Both end when every `Committer`
    /// handle is dropped, after finishing what was submitted.
    ///
    /// The writer has its own thread, not a task among the sockets': when a batch fans out, a
    /// thousand connection tasks queue up on the runtime's workers, and a writer queued behind
    /// them would add that whole fan-out round to the latency of every commit. On its own
    /// thread, a submission wakes it at once.
    ///
    /// The publisher is a task on the runtime, because offering a batch wakes every member's
    /// connection task. Woken from a worker, they go to that worker's own run queue; woken from
    /// another thread, each would take the runtime's shared queue lock. At 1,000 subscribers
    /// near saturation this lowered delivery p99 in eight of eight paired runs
    /// (docs/performance.md). The writer wakes it through a [`doorbell`], so that it runs
    /// as soon as a batch commits rather than behind every connection task already queued.
    pub fn start(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
    ) -> std::io::Result<(Committer, JoinHandle<()>)> {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let (committed, to_publish) = publication_channel()?;
        let pacing = Arc::new(CommitPacing::default());
        let health = Arc::new(CommitHealth::default());
        tokio::spawn(publish_loop(to_publish, broker, pacing.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let writer_health = health.clone();
        let thread = std::thread::Builder::new()
            .name("huddle-committer".into())
            .spawn(move || {
                runtime.block_on(write_loop(queue, store, committed, pacing, writer_health))
            })?;
        Ok((Committer { jobs, health }, thread))
    }

    /// Whether commits are succeeding ([`CommitHealth`]).
    pub fn health(&self) -> &CommitHealth {
        &self.health
    }

    /// Queues `message` for storing. Messages submitted one after another by the same caller
    /// are stored in that order.
    pub async fn submit(&self, message: NewMessage) -> PendingCommit {
        self.enqueue(None, message).await
    }

    /// Like [`Committer::submit`], for a socket that is a member of the message's room and
    /// awaits the answer: its own copy is queued without waking it, since the answer does
    /// ([`crate::server::hub::mailbox::Wake::ByAnswer`]).
    pub async fn submit_from(
        &self,
        connection: ConnectionId,
        message: NewMessage,
    ) -> PendingCommit {
        self.enqueue(Some(connection), message).await
    }

    async fn enqueue(&self, from: Option<ConnectionId>, message: NewMessage) -> PendingCommit {
        let (reply, answer) = oneshot::channel();
        // If the writer is gone, `reply` is dropped with the job and the answer says Stopped.
        let _ = self
            .jobs
            .send(Job {
                from,
                message,
                reply,
            })
            .await;
        PendingCommit(answer)
    }
}

/// The writer thread's end of the way to the publisher.
struct ToPublish {
    // Declared first, so dropped first: when the bell reports the ringer gone, the channel
    // already reports itself closed.
    batches: mpsc::UnboundedSender<Committed>,
    ringer: Ringer,
}

/// The publisher's end.
struct Publications {
    batches: mpsc::UnboundedReceiver<Committed>,
    bell: Bell,
}

/// Committed batches go from the writer's thread to the publishing task over a channel, and
/// the task is woken by a [`doorbell`] rather than by the channel: see there for why.
fn publication_channel() -> std::io::Result<(ToPublish, Publications)> {
    let (batches, receiver) = mpsc::unbounded_channel();
    let (ringer, bell) = doorbell()?;
    Ok((
        ToPublish { batches, ringer },
        Publications {
            batches: receiver,
            bell,
        },
    ))
}

impl ToPublish {
    fn send(&self, batch: Committed) {
        // Fails only once the publisher is gone, when no one is left to hear anything.
        let _ = self.batches.send(batch);
        self.ringer.ring();
    }
}

impl Publications {
    /// The next committed batch, in commit order; `None` once the writer is gone and every
    /// batch it sent has been taken.
    async fn recv(&mut self) -> Option<Committed> {
        loop {
            match self.batches.try_recv() {
                Ok(batch) => return Some(batch),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if let Err(err) = self.bell.wait().await {
                // Never seen in practice; the channel's own wake-up still works, only later.
                tracing::warn!(%err, "the publisher's doorbell failed; waiting on the channel");
                return self.batches.recv().await;
            }
        }
    }
}

/// A committed batch on its way to the hub: what the store said of each message, and who is
/// waiting to hear it.
struct Committed {
    /// The sockets that the answers wake, sorted.
    answered: Vec<ConnectionId>,
    outcomes: Vec<Appended>,
    replies: Vec<oneshot::Sender<Result<Appended, CommitError>>>,
}

async fn write_loop(
    mut queue: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    committed: ToPublish,
    pacing: Arc<CommitPacing>,
    health: Arc<CommitHealth>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut last_start = Instant::now();
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Messages arriving faster than commits (more than one waited for this one), after a
        // commit that fanned out widely: what arrives within the gap joins one batch
        // (src/server/history/commit_pacing.rs). A lone message is never held back.
        let next_start = last_start + pacing.gap();
        if jobs.len() > 1 && next_start > Instant::now() {
            tokio::time::sleep_until(next_start).await;
            while jobs.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        last_start = Instant::now();
        let mut answered: Vec<ConnectionId> = jobs.iter().filter_map(|job| job.from).collect();
        answered.sort_unstable();
        answered.dedup();
        let (messages, replies): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.message, job.reply)).unzip();
        let count = messages.len();
        match store.append(messages).await {
            // An unbounded channel, but what it holds is bounded: every batch in it has
            // submitters still waiting for their acks, and a socket stops reading after 64
            // sends in flight.
            Ok(outcomes) => {
                health.succeeded();
                committed.send(Committed {
                    answered,
                    outcomes,
                    replies,
                });
            }
            Err(err) => {
                tracing::error!(%err, count, "storing a batch failed; nothing in it was sent");
                health.failed(err.to_string());
                let err = CommitError::Store(err.to_string());
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

/// Publishes committed batches in commit order, then answers their submitters: an ack never
/// precedes its commit, and a sender's own copy is queued before its ack.
async fn publish_loop(
    mut committed: Publications,
    broker: Arc<dyn Broker>,
    pacing: Arc<CommitPacing>,
) {
    while let Some(Committed {
        answered,
        outcomes,
        replies,
    }) = committed.recv().await
    {
        pacing.record(broker.publish_stored(&outcomes, &answered));
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(Ok(outcome));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerFrame, User};
    use crate::server::broker::LocalBroker;
    use crate::server::hub::fanout::Hub;
    use crate::server::hub::mailbox::{mailbox, Mailbox};
    use crate::server::hub::registry::ConnectionRegistry;
    use crate::server::store::SqliteStore;

    fn new_message(client_id: &str) -> NewMessage {
        NewMessage {
            room: "lobby".into(),
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.into(),
            user: User {
                id: "u".into(),
                name: "U".into(),
            },
            text: client_id.into(),
            ts: 0,
        }
    }

    /// A committer on a fresh database, and a lobby member watching what it publishes.
    async fn setup(queue: usize) -> (tempfile::TempDir, Arc<SqliteStore>, Committer, Mailbox) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
        let hub = Arc::new(Hub::new(&[]));
        let (sub, watcher) = mailbox(1, queue);
        let person = Arc::new(User {
            id: "w".into(),
            name: "W".into(),
        });
        hub.join("lobby", sub, &person).unwrap();
        let broker = Arc::new(LocalBroker::new(hub, Arc::new(ConnectionRegistry::new())));
        let (committer, _thread) = Committer::start(store.clone(), broker).unwrap();
        (dir, store, committer, watcher)
    }

    #[tokio::test]
    async fn concurrent_submissions_are_stored_published_and_acked_in_seq_order() {
        let (_dir, store, committer, mut watcher) = setup(1_000).await;

        let mut pending = Vec::new();
        for n in 0..200 {
            pending.push(committer.submit(new_message(&format!("c{n}"))).await);
        }
        let mut acked = Vec::new();
        for p in pending {
            acked.push(p.outcome().await.unwrap().message().seq);
        }
        assert_eq!(
            acked,
            (1..=200).collect::<Vec<_>>(),
            "submission order is seq order"
        );
        for seq in 1..=200u64 {
            // Published before the acks were sent, so already queued.
            let delivery = watcher.try_recv().unwrap();
            assert_eq!(delivery.seq, seq);
            assert!(matches!(
                serde_json::from_str(delivery.frame.as_str()).unwrap(),
                ServerFrame::Message(_)
            ));
        }
        assert_eq!(store.range("lobby", 0, 1_000).await.unwrap().len(), 200);
    }

    #[tokio::test]
    async fn a_retry_is_acked_like_the_first_and_not_published_again() {
        let (_dir, _store, committer, mut watcher) = setup(10).await;
        let first = committer
            .submit(new_message("same"))
            .await
            .outcome()
            .await
            .unwrap();
        let retry = committer
            .submit(new_message("same"))
            .await
            .outcome()
            .await
            .unwrap();
        assert_eq!(retry, Appended::Duplicate(first.message().clone()));
        assert_eq!(watcher.try_recv().unwrap().seq, 1);
        assert!(watcher.try_recv().is_none(), "published once");
    }

    #[tokio::test]
    async fn a_failing_store_answers_every_submitter_with_an_error_and_publishes_nothing() {
        let (_dir, store, committer, mut watcher) = setup(10).await;
        store.close().await; // every statement now fails
        let outcome = committer.submit(new_message("x")).await.outcome().await;
        assert!(matches!(outcome, Err(CommitError::Store(_))), "{outcome:?}");
        assert!(watcher.try_recv().is_none());
    }

    /// The runtime is busy with a long queue of other tasks (a fan-out's connection tasks) when
    /// a batch commits: publishing it, and so acking it, must not wait for all of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_commit_is_published_ahead_of_tasks_already_queued() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        const QUEUED: usize = 400;
        let (_dir, _store, committer, _watcher) = setup(10).await;
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..QUEUED {
            let ran = ran.clone();
            tokio::spawn(async move {
                // Stands for one connection task's write: the single worker is busy meanwhile.
                std::thread::sleep(std::time::Duration::from_millis(2));
                ran.fetch_add(1, Ordering::SeqCst);
            });
        }
        let pending = committer.submit(new_message("urgent")).await;
        pending.outcome().await.unwrap();
        let ran_before_ack = ran.load(Ordering::SeqCst);
        assert!(
            ran_before_ack < QUEUED / 2,
            "the ack came after {ran_before_ack} of {QUEUED} queued tasks had run"
        );
    }
}
