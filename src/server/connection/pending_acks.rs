//! The sends of one connection waiting for their commit, answered in the order they were sent.
//!
//! The committer answers submissions in the order it received them, so only the oldest
//! pending send is polled: a later one cannot be answered first. A plain queue of boxed
//! futures rather than `FuturesOrdered`, which allocates its bookkeeping when created: most
//! connections never send, and an idle connection should hold no allocation for sends.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// Resolves to the frame that answers one send (an ack, or an error naming its client_id):
/// only that small string waits in the connection task, not the stored message.
pub type AckFuture = Pin<Box<dyn Future<Output = String> + Send>>;

#[derive(Default)]
pub struct PendingAcks {
    oldest_first: VecDeque<AckFuture>,
}

impl PendingAcks {
    pub fn len(&self) -> usize {
        self.oldest_first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.oldest_first.is_empty()
    }

    pub fn push_back(&mut self, answer: AckFuture) {
        self.oldest_first.push_back(answer);
    }

    /// The oldest send's answer once it is ready; `None` at once if nothing is pending.
    /// Cancel-safe: an answer is taken off the queue only when this resolves with it.
    pub fn next_answer(&mut self) -> impl Future<Output = Option<String>> + '_ {
        poll_fn(|cx| {
            let Some(oldest) = self.oldest_first.front_mut() else {
                return Poll::Ready(None);
            };
            let answer = std::task::ready!(oldest.as_mut().poll(cx));
            self.oldest_first.pop_front();
            if self.oldest_first.is_empty() {
                // A burst of sends grew the queue; an idle connection gives the buffer back.
                self.oldest_first = VecDeque::new();
            }
            Poll::Ready(Some(answer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    fn answer_from(receiver: oneshot::Receiver<&'static str>) -> AckFuture {
        Box::pin(async move { receiver.await.unwrap_or("dropped").to_owned() })
    }

    #[tokio::test]
    async fn answers_come_out_in_the_order_sends_went_in() {
        let mut pending = PendingAcks::default();
        assert_eq!(pending.next_answer().await, None, "nothing pending");
        let (first_tx, first_rx) = oneshot::channel();
        let (second_tx, second_rx) = oneshot::channel();
        pending.push_back(answer_from(first_rx));
        pending.push_back(answer_from(second_rx));
        assert_eq!(pending.len(), 2);
        // The second is answered first, yet waits for the first.
        second_tx.send("second").unwrap();
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), pending.next_answer());
        assert!(
            waiting.await.is_err(),
            "the second must not overtake the first"
        );
        assert_eq!(
            pending.len(),
            2,
            "a cancelled wait takes nothing off the queue"
        );
        first_tx.send("first").unwrap();
        assert_eq!(pending.next_answer().await.as_deref(), Some("first"));
        assert_eq!(pending.next_answer().await.as_deref(), Some("second"));
        assert!(pending.is_empty());
    }
}
