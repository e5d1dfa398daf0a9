//! One connection's bounded queue of outgoing frames, split into the end the hub writes to
//! ([`Subscriber`]) and the end the socket task drains ([`Mailbox`]).
//!
//! The queue is bounded so that a client that stops reading cannot grow the server's memory.
//! When it is full the hub does not wait and does not silently skip the frame: it *evicts* the
//! subscriber, and the socket task closes the connection with [`crate::protocol::close_code::TOO_SLOW`]
//! so the client knows it missed messages and must reconnect.
//!
//! The mailbox is also how anything else tells a connection to stop (shutdown now; more
//! reasons may follow): one wake-up source per connection, so the socket task waits on a
//! single future, and nothing it polls is shared with other connections.
//!
//! Built on a mutex-guarded `VecDeque` rather than a channel: an idle connection's queue owns
//! no buffer at all (a tokio channel allocates a block of 32 slots up front, about 2 KiB), and
//! the lock is only ever contended by the hub and this one connection's task.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use axum::extract::ws::Utf8Bytes;

/// Identifies one socket connection for the lifetime of the process.
pub type ConnectionId = u64;

/// A room as the hub numbers it: a delivery carries this instead of the room's name, so
/// queuing a frame for a thousand members copies a number, not a shared pointer whose count
/// every core would contend on.
pub type RoomId = u32;

/// The "room" of a frame meant for the connection itself (a pushed notice, a new room).
pub const TO_CONNECTION: RoomId = 0;

/// One broadcast frame on its way to one connection.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The room it belongs to, or [`TO_CONNECTION`].
    pub room: RoomId,
    /// The message's seq, so the socket task can skip what it already sent while resuming.
    /// [`UNSEQUENCED`] for frames that are not stored messages (presence, typing, notices):
    /// those are always written.
    pub seq: u64,
    /// The serialized frame, shared between all recipients.
    pub frame: Utf8Bytes,
}

/// The seq of a delivery that is not a stored message.
pub const UNSEQUENCED: u64 = 0;

/// Why a mailbox takes no more deliveries. The socket task closes the connection with the
/// matching close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The socket task's end.
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
    /// The socket task, when it waits for something to arrive.
    waker: Option<Waker>,
    stop: Option<Stop>,
    /// The socket task is gone: nothing will read the queue again.
    closed: bool,
}

/// Whether queuing a delivery wakes the socket task.
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

/// What the socket task takes out of its mailbox.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// This many deliveries were moved into the caller's batch (at least one).
    Frames(usize),
    /// The connection must end. Takes precedence over frames still queued: after an
    /// overflow they are incomplete anyway, and at shutdown the client resumes from history.
    Stopped(Stop),
}

/// Creates both ends of a connection's queue, holding at most `capacity` frames.
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
    /// Keeps the waiting task's waker (once: the socket task polls with the same one).
    fn wake_later(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }
}

impl Subscriber {
    /// Offers a frame without waiting; a full queue evicts the subscriber.
    pub fn offer(&self, delivery: Delivery) -> Offer {
        self.queue(1, Wake::Now, |queue| queue.push_back(delivery))
    }

    /// Offers several frames of one room at once: one lock and at most one wake-up for the
    /// lot, so a connection handed a committed batch writes it in one go (write coalescing)
    /// instead of waking, writing and flushing once per frame. All or nothing: if they do
    /// not all fit, the subscriber is evicted, since a partial batch would be a gap.
    pub fn offer_frames(&self, room: RoomId, frames: &[(u64, Utf8Bytes)], wake: Wake) -> Offer {
        self.queue(frames.len(), wake, |queue| {
            queue.extend(frames.iter().map(|(seq, frame)| Delivery {
                room,
                seq: *seq,
                frame: frame.clone(),
            }))
        })
    }

    /// Queues `count` deliveries with `push` if they all fit, waking the task as `wake` says;
    /// otherwise evicts the subscriber (which always wakes it).
    fn queue(&self, count: usize, wake: Wake, push: impl FnOnce(&mut VecDeque<Delivery>)) -> Offer {
        let (offer, waker) = {
            let mut state = self.shared.lock();
            if state.closed || state.stop.is_some() {
                return Offer::Gone;
            }
            if state.queue.len() + count > self.shared.capacity {
                state.stop = Some(Stop::TooSlow);
                (Offer::Evicted, state.waker.take())
            } else {
                push(&mut state.queue);
                match wake {
                    Wake::Now => (Offer::Queued, state.waker.take()),
                    Wake::ByAnswer => (Offer::Queued, None),
                }
            }
        };
        // Woken outside the lock, so the socket task never wakes up only to wait for it.
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
    /// Waits until deliveries are queued, moves up to `max` of them into `batch`, and says
    /// how many; or says why the connection must stop. Cancel-safe: nothing is taken out of
    /// the queue unless this resolves.
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
        let taken = max.max(1).min(state.queue.len());
        if taken == state.queue.len() && batch.is_empty() {
            // Everything: trade buffers instead of copying (the hub fills the batch's old,
            // empty one next).
            std::mem::swap(batch, &mut state.queue);
        } else {
            batch.extend(state.queue.drain(..taken));
        }
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

    /// Takes one delivery if one is queued (for tests and the committer's watcher).
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.shared.lock().queue.pop_front()
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
        state.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake as TaskWake;

    fn delivery(seq: u64) -> Delivery {
        Delivery {
            room: 1,
            seq,
            frame: Utf8Bytes::from(seq.to_string()),
        }
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
        (poll, batch.iter().map(|d| d.seq).collect())
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
    fn a_batch_of_frames_is_queued_with_one_wake_up_or_evicts_whole() {
        let (sub, mut mailbox) = mailbox(1, 4);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        let room: RoomId = 1;
        let frames: Vec<(u64, Utf8Bytes)> = (1..=3)
            .map(|seq| (seq, Utf8Bytes::from(seq.to_string())))
            .collect();
        assert_eq!(sub.offer_frames(room, &frames, Wake::Now), Offer::Queued);
        assert_eq!(
            waker.0.load(Ordering::SeqCst),
            1,
            "one wake-up for the batch"
        );
        assert_eq!(
            poll_once(&mut mailbox, &waker),
            (Poll::Ready(Received::Frames(2)), vec![1, 2])
        );
        // One slot used, three free: a batch of four does not fit, and no part of it is queued.
        let four: Vec<(u64, Utf8Bytes)> = (4..=7)
            .map(|seq| (seq, Utf8Bytes::from(seq.to_string())))
            .collect();
        assert_eq!(sub.offer_frames(room, &four, Wake::Now), Offer::Evicted);
        assert_eq!(mailbox.stopped(), Some(Stop::TooSlow));
        assert_eq!(mailbox.try_recv().map(|d| d.seq), Some(3));
        assert!(
            mailbox.try_recv().is_none(),
            "nothing of the evicting batch was queued"
        );
    }

    #[test]
    fn a_senders_copy_waits_for_its_answer_to_wake_it_but_an_eviction_does_not() {
        let (sub, mut mailbox) = mailbox(1, 2);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll_once(&mut mailbox, &waker).0, Poll::Pending);
        let frames = [(1, Utf8Bytes::from("1"))];
        assert_eq!(sub.offer_frames(1, &frames, Wake::ByAnswer), Offer::Queued);
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
        let three: Vec<(u64, Utf8Bytes)> = (2..=4)
            .map(|seq| (seq, Utf8Bytes::from(seq.to_string())))
            .collect();
        assert_eq!(sub.offer_frames(1, &three, Wake::ByAnswer), Offer::Evicted);
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
