//! One connection's bounded queue of outgoing frames, split into the end the hub writes to
//! ([`Subscriber`]) and the end the socket task drains ([`Mailbox`]).
//!
//! The queue is bounded so that a client that stops reading cannot grow the server's memory.
//! When it is full the hub does not wait and does not silently skip the frame: it *evicts* the
//! subscriber, and the socket task closes the connection with [`crate::protocol::close_code::TOO_SLOW`]
//! so the client knows it missed messages and must reconnect.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Identifies one socket connection for the lifetime of the process.
pub type ConnectionId = u64;

/// One broadcast frame on its way to one connection.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The room it belongs to; shared by every delivery of the room (a refcount, no copy).
    pub room: Arc<str>,
    /// The message's seq, so the socket task can skip what it already sent while resuming.
    pub seq: u64,
    /// The serialized frame, shared between all recipients.
    pub frame: Utf8Bytes,
}

/// The hub's handle on a connection. Cheap to clone: one per room the connection is in.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub id: ConnectionId,
    queue: mpsc::Sender<Delivery>,
    /// Cancelled when the hub gives up on this connection because its queue overflowed.
    evicted: CancellationToken,
}

/// The socket task's end: frames to write, and the eviction signal.
#[derive(Debug)]
pub struct Mailbox {
    pub frames: mpsc::Receiver<Delivery>,
    pub evicted: CancellationToken,
}

/// What happened when the hub offered a frame to a subscriber.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// The queue was full: the subscriber is now evicted and must be removed everywhere.
    Evicted,
    /// The socket task is gone: remove the subscriber.
    Gone,
}

/// Creates both ends of a connection's queue, holding at most `capacity` frames.
pub fn mailbox(id: ConnectionId, capacity: usize) -> (Subscriber, Mailbox) {
    let (queue, frames) = mpsc::channel(capacity.max(1));
    let evicted = CancellationToken::new();
    (
        Subscriber {
            id,
            queue,
            evicted: evicted.clone(),
        },
        Mailbox { frames, evicted },
    )
}

impl Subscriber {
    /// Offers a frame without waiting; a full queue evicts the subscriber.
    pub fn offer(&self, delivery: Delivery) -> Offer {
        match self.queue.try_send(delivery) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.evicted.cancel();
                Offer::Evicted
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(seq: u64) -> Delivery {
        Delivery {
            room: Arc::from("lobby"),
            seq,
            frame: Utf8Bytes::from(seq.to_string()),
        }
    }

    #[test]
    fn full_queue_evicts_instead_of_dropping_silently() {
        let (sub, mut mailbox) = mailbox(1, 2);
        assert_eq!(sub.offer(delivery(1)), Offer::Queued);
        assert_eq!(sub.offer(delivery(2)), Offer::Queued);
        assert!(!mailbox.evicted.is_cancelled());
        assert_eq!(sub.offer(delivery(3)), Offer::Evicted);
        assert!(mailbox.evicted.is_cancelled());
        // What was queued before the overflow is still there, in order.
        assert_eq!(mailbox.frames.try_recv().unwrap().seq, 1);
        assert_eq!(mailbox.frames.try_recv().unwrap().seq, 2);
    }

    #[test]
    fn closed_mailbox_reports_gone() {
        let (sub, mailbox) = mailbox(1, 2);
        drop(mailbox);
        assert_eq!(sub.offer(delivery(1)), Offer::Gone);
    }
}
