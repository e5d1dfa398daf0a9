//! One connection's bounded queue of outgoing frames, split into the end the hub writes to
//! ([`Subscriber`]) and the end the connection task drains ([`Mailbox`]).
//!
//! The queue is bounded so that a client that stops reading cannot grow the server's memory.
//! When a delivery arrives for a connection already `capacity` frames behind, the hub does not
//! wait and does not silently skip it: it *evicts* the subscriber, and the connection task closes the connection with [`crate::protocol::close_code::TOO_SLOW`]
//! so the client knows it missed messages and must reconnect.
//!
//! The mailbox is also how anything else tells a connection to stop (shutdown now; more
//! reasons may follow): one wake-up source per connection, so the connection task waits on a
//! single future, and nothing it polls is shared with other connections.
//!
//! Built on a mutex-guarded `VecDeque` rather than a channel: an idle connection's queue owns
//! no buffer at all (a tokio channel allocates a block of 32 slots up front, about 2 KiB), and
//! the lock is only ever contended by the hub and this one connection's task.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::server::transport::chat_socket::EncodedBatch;
use crate::server::transport::encoded_frame::EncodedFrame;

/// Identifies one socket connection for the lifetime of the process.
pub type ConnectionId = u64;

/// A room as the hub numbers it: a delivery carries this instead of the room's name, so
/// queuing a frame for a thousand members copies a number, not a shared pointer whose count
/// every core would contend on.
pub type RoomId = u32;

/// The "room" of a frame meant for the connection itself (a pushed notice, a new room).
pub const TO_CONNECTION: RoomId = 0;

/// One serialized frame and its seq: [`UNSEQUENCED`] for frames that are not stored
/// messages (presence, typing, notices), which are always written; a stored message's seq
/// lets the connection task skip what it already sent while resuming.
pub type Frame = (u64, EncodedFrame);

/// Frames of one room on their way to one connection, in order: a committed batch, or a
/// single presence, typing or pushed frame.
///
/// Every recipient shares the one allocation, so handing a batch of k frames to a member
/// costs one refcount and one queue entry, not k of each. That matters most at saturation,
/// when members fall behind: queued one entry (48 bytes) per frame, a thousand members a
/// second behind a busy room hold tens of megabytes of entries, far more than the caches.
/// Measured: 9 % less CPU at 1,000 members (docs/performance.md).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The room the frames belong to, or [`TO_CONNECTION`].
    pub room: RoomId,
    pub frames: Arc<[Frame]>,
    /// The first frame still to write: the connection task moves it past frames it already sent
    /// while catching up, so that only a suffix of the shared frames is written.
    pub unsent: usize,
}

/// What a socket writes of a delivery: its frames from `unsent` on.
impl EncodedBatch for Delivery {
    fn unsent(&self) -> usize {
        self.unsent
    }

    fn frame_count(&self) -> usize {
        self.frames.len()
    }

    fn frame(&self, index: usize) -> &EncodedFrame {
        &self.frames[index].1
    }
}

impl Delivery {
    /// A single frame for every recipient it is offered to.
    pub fn single(room: RoomId, frame: EncodedFrame) -> Self {
        Delivery::batch(room, Arc::from([(UNSEQUENCED, frame)]))
    }

    /// `frames`, all of them still to write.
    pub fn batch(room: RoomId, frames: Arc<[Frame]>) -> Self {
        Delivery {
            room,
            frames,
            unsent: 0,
        }
    }
}

/// One frame taken out of a mailbox on its own (tests and the committer's watcher).
#[derive(Clone, Debug)]
pub struct QueuedFrame {
    pub room: RoomId,
    pub seq: u64,
    pub frame: EncodedFrame,
}

/// The seq of a delivery that is not a stored message.
pub const UNSEQUENCED: u64 = 0;

/// Why a mailbox takes no more deliveries. The connection task closes the connection with the
/// matching close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The queue overflowed: the client missed messages.
    TooSlow,
    /// The server is shutting down.
    ShuttingDown,
    /// The person logged out: their session is gone.
    LoggedOut,
}

/// The hub's handle on a connection. Cheap to clone: one per room the connection is in.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub id: ConnectionId,
    shared: Arc<Shared>,
}

/// The connection task's end.
#[derive(Debug)]
pub struct Mailbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Delivery>,
    /// Frames in `queue`: at `capacity`, the next delivery evicts.
    frames: usize,
    /// The connection task, when it waits for something to arrive.
    waker: Option<Waker>,
    stop: Option<Stop>,
    /// The connection task is gone: nothing will read the queue again.
    closed: bool,
}

/// Whether queuing a delivery wakes the connection task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Now,
    /// Not now: the task is about to be woken anyway, by the answer to its own send (a
    /// sender's copy of its message, queued just before its ack). During a large fan-out a
    /// task woken with every other member sits in tokio's run queue behind thousands of
    /// them; a later wake-up, the ack's or its next message's arrival, then finds it queued
    /// already and cannot hurry it. Left unqueued, the ack's wake-up runs it at once, and so
    /// does its next message (docs/performance.md). An eviction still wakes it.
    ByAnswer,
}

/// What happened when the hub offered a frame to a subscriber.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// The queue was full: the subscriber is now evicted and must be removed everywhere.
    Evicted,
    /// The connection is ending or gone: remove the subscriber.
    Gone,
}

/// What the connection task takes out of its mailbox.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Deliveries holding this many frames were moved into the caller's batch (at least one).
    Frames(usize),
    /// The connection must end. Takes precedence over frames still queued: after an
    /// overflow they are incomplete anyway, and at shutdown the client resumes from history.
    Stopped(Stop),
}

/// Creates both ends of a connection's queue. It takes deliveries until `capacity` frames
/// are waiting; since a delivery is never split, one may take it past that, by at most one
/// committed batch.
pub fn mailbox(id: ConnectionId, capacity: usize) -> (Subscriber, Mailbox) {
    let shared = Arc::new(Shared {
        capacity: capacity.max(1),
        state: Mutex::new(State::default()),
    });
    (
        Subscriber {
            id,
            shared: shared.clone(),
        },
        Mailbox { shared },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain data that no code path leaves half-updated: recover from a
        // panic elsewhere instead of poisoning the connection.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Keeps the waiting task's waker (once: the connection task polls with the same one).
    fn wake_later(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }
}

impl Subscriber {
    /// Offers a delivery without waiting, waking the task; a subscriber already `capacity`
    /// frames behind is evicted instead. All or nothing: a partial batch would be a gap.
    /// Whether the delivery itself would fit does not matter: the committer stores batches
    /// larger than a queue, and a connection that has read everything is not slow because a
    /// busy moment was committed at once.
    ///
    /// A committed batch reaches each member as one delivery: one lock and at most one
    /// wake-up for the lot, so the connection writes it in one go (write coalescing) instead
    /// of waking, writing and flushing once per frame.
    pub fn offer(&self, delivery: Delivery) -> Offer {
        self.offer_with(delivery, Wake::Now)
    }

    /// [`Subscriber::offer`], waking the task as `wake` says (an eviction always wakes it).
    pub fn offer_with(&self, delivery: Delivery, wake: Wake) -> Offer {
        let count = delivery.frames.len();
        let (offer, waker) = {
            let mut state = self.shared.lock();
            if state.closed || state.stop.is_some() {
                return Offer::Gone;
            }
            if state.frames >= self.shared.capacity {
                state.stop = Some(Stop::TooSlow);
                (Offer::Evicted, state.waker.take())
            } else {
                state.queue.push_back(delivery);
                state.frames += count;
                match wake {
                    Wake::Now => (Offer::Queued, state.waker.take()),
                    Wake::ByAnswer => (Offer::Queued, None),
                }
            }
        };
        // Woken outside the lock, so the connection task never wakes up only to wait for it.
        if let Some(waker) = waker {
            waker.wake();
        }
        offer
    }

    /// Tells the connection to end. The first reason given wins.
    pub fn stop(&self, why: Stop) {
        let waker = {
            let mut state = self.shared.lock();
            state.stop.get_or_insert(why);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Mailbox {
    /// Waits until deliveries are queued, moves whole ones holding up to `max` frames (at
    /// least one delivery, however large) into `batch`, and says how many frames; or says
    /// why the connection must stop. Cancel-safe: nothing is taken out of the queue unless
    /// this resolves.
    pub fn recv_many<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Delivery>,
        max: usize,
    ) -> impl Future<Output = Received> + 'a {
        poll_fn(move |cx| self.poll_recv_many(cx, batch, max))
    }

    fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Delivery>,
        max: usize,
    ) -> Poll<Received> {
        let mut state = self.shared.lock();
        if let Some(stop) = state.stop {
            return Poll::Ready(Received::Stopped(stop));
        }
        if state.queue.is_empty() {
            state.wake_later(cx.waker());
            return Poll::Pending;
        }
        if state.frames <= max && batch.is_empty() {
            // Everything: trade buffers instead of copying (the hub fills the batch's old,
            // empty one next).
            std::mem::swap(batch, &mut state.queue);
            return Poll::Ready(Received::Frames(std::mem::take(&mut state.frames)));
        }
        // Whole deliveries, at least one, until `max` frames: a batch is never split.
        let mut taken = 0;
        while let Some(delivery) = state.queue.front() {
            let count = delivery.frames.len();
            if taken > 0 && taken + count > max {
                break;
            }
            taken += count;
            batch.extend(state.queue.pop_front());
        }
        state.frames -= taken;
        Poll::Ready(Received::Frames(taken))
    }

    /// Resolves once the hub has evicted this connection (its queue overflowed): a socket
    /// task stuck writing to a client that stopped reading gives up then, not only at its
    /// write timeout.
    pub fn evicted(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            let mut state = self.shared.lock();
            if state.stop == Some(Stop::TooSlow) {
                return Poll::Ready(());
            }
            state.wake_later(cx.waker());
            Poll::Pending
        })
    }

    /// Takes the next frame if one is queued (for tests and the committer's watcher).
    pub fn try_recv(&mut self) -> Option<QueuedFrame> {
        let mut state = self.shared.lock();
        let delivery = state.queue.pop_front()?;
        let ((seq, frame), rest) = delivery.frames.split_first()?;
        let taken = QueuedFrame {
            room: delivery.room,
            seq: *seq,
            frame: frame.clone(),
        };
        if !rest.is_empty() {
            state
                .queue
                .push_front(Delivery::batch(delivery.room, Arc::from(rest)));
        }
        state.frames -= 1;
        Some(taken)
    }

    pub fn is_empty(&self) -> bool {
        self.shared.lock().queue.is_empty()
    }

    /// Why the connection must stop, if it must.
    pub fn stopped(&self) -> Option<Stop> {
        self.shared.lock().stop
    }

    /// Gives back the buffer a burst grew the queue to, once it has drained: most
    /// connections are idle most of the time and should hold no buffer while idle. Returns
    /// whether the queue was empty (idle), so the caller can let go of its own buffers too.
    pub fn release_idle_buffer(&mut self) -> bool {
        let mut state = self.shared.lock();
        let idle = state.queue.is_empty();
        if idle && state.queue.capacity() > 0 {
            state.queue = VecDeque::new();
        }
        idle
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        // Frames still queued go now, not when the last room lets go of the subscriber.
        state.queue = VecDeque::new();
        state.frames = 0;
        state.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake as TaskWake;

    /// Stored messages `seqs` of room 1, as one delivery.
    fn batch(seqs: std::ops::RangeInclusive<u64>) -> Delivery {
        Delivery::batch(
            1,
            seqs.map(|seq| (seq, EncodedFrame::text(seq.to_string())))
                .collect(),
        )
    }

    fn delivery(seq: u64) -> Delivery {
        batch(seq..=seq)
    }

    /// Counts how often it is woken.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl TaskWake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll_once(mailbox: &mut Mailbox, waker: &Arc<CountingWaker>) -> (Poll<Received>, Vec<u64>) {
        let waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = VecDeque::new();
        let poll = mailbox.poll_recv_many(&mut cx, &mut batch, 2);
        let seqs = batch
            .iter()
            .flat_map(|delivery| delivery.frames.iter().map(|(seq, _)| *seq))
            .collect();
        (poll, seqs)
    }

    #[test]
    fn full_queue_evicts_instead_of_dropping_silently() {
        let (sub, mut mailbox) = mailbox(1, 2);
        assert_eq!(sub.offer(delivery(1)), Offer::Queued);
        assert_eq!(sub.offer(delivery(2)), Offer::Queued);
        assert_eq!(mailbox.stopped(), None);
        assert_eq!(sub.offer(delivery(3)), Offer::Evicted);
        assert_eq!(mailbox.stopped(), Some(Stop::TooSlow));
        // Once evicted, further offers are refused, and the task learns it must stop.
        assert_eq!(sub.offer(delivery(4)), Offer::Gone);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(
            poll_once(&mut mailbox, &waker).0,
            Poll::Ready(Received::Stopped(Stop::TooSlow))
        );
    }

    #[test]
    fn a_batch_is_queued_whole_with_one_wake_up_or_evicts_whole() {
        let (sub, mut mailbox) = mailbox(1, 4);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        assert_eq!(sub.offer(batch(1..=3)), Offer::Queued);
        assert_eq!(
            waker.0.load(Ordering::SeqCst),
            1,
            "one wake-up for the batch"
        );
        // Three of four: not yet behind, so a batch that takes it past the capacity is
        // still queued whole rather than split.
        assert_eq!(sub.offer(batch(4..=5)), Offer::Queued);
        // Now five frames behind: the next delivery evicts, and none of it is queued.
        assert_eq!(sub.offer(delivery(6)), Offer::Evicted);
        assert_eq!(mailbox.stopped(), Some(Stop::TooSlow));
        let taken: Vec<u64> = std::iter::from_fn(|| mailbox.try_recv().map(|f| f.seq)).collect();
        assert_eq!(
            taken,
            vec![1, 2, 3, 4, 5],
            "nothing of the evicting delivery was queued"
        );
    }

    #[test]
    fn a_batch_is_taken_whole_and_max_bounds_what_joins_it() {
        let (sub, mut mailbox) = mailbox(1, 16);
        let waker = Arc::new(CountingWaker::default());
        for delivery in [delivery(1), batch(2..=4), delivery(5)] {
            assert_eq!(sub.offer(delivery), Offer::Queued);
        }
        // At most two frames, unless a single delivery holds more: a batch is never split.
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(1)), vec![1])
        );
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(3)), vec![2, 3, 4])
        );
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(1)), vec![5])
        );
        // What was taken no longer counts against the capacity.
        assert_eq!(sub.offer(batch(6..=21)), Offer::Queued);
    }

    #[test]
    fn a_senders_copy_waits_for_its_answer_to_wake_it_but_an_eviction_does_not() {
        let (sub, mut mailbox) = mailbox(1, 2);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        assert_eq!(sub.offer_with(delivery(1), Wake::ByAnswer), Offer::Queued);
        assert_eq!(
            waker.0.load(Ordering::SeqCst),
            0,
            "queued without a wake-up"
        );
        // Woken by the answer, the task finds its copy.
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(1)), vec![1])
        );
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        // An overflow must still wake it, or it would never learn it was evicted.
        assert_eq!(sub.offer_with(batch(2..=3), Wake::ByAnswer), Offer::Queued);
        assert_eq!(sub.offer_with(delivery(4), Wake::ByAnswer), Offer::Evicted);
        assert_eq!(waker.0.load(Ordering::SeqCst), 1, "the eviction woke it");
    }

    #[test]
    fn closed_mailbox_reports_gone() {
        let (sub, mailbox) = mailbox(1, 2);
        drop(mailbox);
        assert_eq!(sub.offer(delivery(1)), Offer::Gone);
    }

    #[test]
    fn a_waiting_task_is_woken_by_a_delivery_and_takes_at_most_max() {
        let (sub, mut mailbox) = mailbox(1, 8);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        for seq in 1..=3 {
            sub.offer(delivery(seq));
        }
        assert_eq!(
            waker.0.load(Ordering::SeqCst),
            1,
            "woken once, by the first offer"
        );
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(2)), vec![1, 2])
        );
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(1)), vec![3])
        );
    }

    #[test]
    fn stop_wakes_the_task_and_the_first_reason_wins() {
        let (sub, mut mailbox) = mailbox(1, 8);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        sub.stop(Stop::ShuttingDown);
        sub.stop(Stop::TooSlow);
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            poll_once(&mut mailbox, &waker).0,
            Poll::Ready(Received::Stopped(Stop::ShuttingDown))
        );
    }

    #[test]
    fn eviction_is_noticed_while_waiting_for_something_else() {
        let (sub, mailbox) = mailbox(1, 1);
        let waker = Arc::new(CountingWaker::default());
        let task_waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&task_waker);
        let mut evicted = std::pin::pin!(mailbox.evicted());
        assert_eq!(evicted.as_mut().poll(&mut cx), Poll::Pending);
        sub.stop(Stop::ShuttingDown);
        assert_eq!(
            evicted.as_mut().poll(&mut cx),
            Poll::Pending,
            "shutdown is not eviction"
        );
        let (sub, mailbox) = super::mailbox(2, 1);
        let mut evicted = std::pin::pin!(mailbox.evicted());
        assert_eq!(evicted.as_mut().poll(&mut cx), Poll::Pending);
        sub.offer(delivery(1));
        assert_eq!(sub.offer(delivery(2)), Offer::Evicted);
        assert!(
            waker.0.load(Ordering::SeqCst) >= 1,
            "the waiting task is woken"
        );
        assert_eq!(evicted.as_mut().poll(&mut cx), Poll::Ready(()));
    }

    #[test]
    fn an_idle_mailbox_gives_its_buffer_back() {
        let (sub, mut mailbox) = mailbox(1, 64);
        for seq in 1..=40 {
            sub.offer(delivery(seq));
        }
        mailbox.release_idle_buffer();
        assert!(!mailbox.is_empty(), "nothing queued is lost");
        while mailbox.try_recv().is_some() {}
        mailbox.release_idle_buffer();
        assert_eq!(mailbox.shared.lock().queue.capacity(), 0);
    }
}
