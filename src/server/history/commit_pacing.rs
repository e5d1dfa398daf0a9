//! How long the committer waits between commits when each one fans out widely.
//!
//! Group commit takes whatever is waiting the moment the previous commit ends. With a few
//! readers that is right: the next commit costs one sync. With a thousand, every commit also
//! costs a write per member (and a wake-up, and the reader's read), so committing 240 small
//! batches a second where 100 larger ones would do spends most of a core on writes that
//! carry a few frames each. Measured at 1,000 subscribers, 1,600 messages/s (two runs each,
//! docs/performance.md): delivery p99 129–165 ms with pacing against 191–329 ms without.
//!
//! So the gap follows the last commit's fan-out: about what writing it took, at most
//! [`MAX_GAP`]. The committer waits it out only when messages already arrive faster than
//! commits (more than one waited for the next); a lone message, and a commit that reached a
//! handful of sockets, are never held back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What one delivery's write costs the server, roughly (a `send` to loopback and its
/// wake-up, measured at about 7–10 µs on the benchmark machine).
const PER_DELIVERY: Duration = Duration::from_micros(10);

/// The longest wait between two commits, whatever their fan-out: it bounds what pacing adds
/// to an ack.
pub const MAX_GAP: Duration = Duration::from_millis(10);

/// Shared by the publisher, which records each batch's fan-out, and the writer, which waits.
#[derive(Debug, Default)]
pub struct CommitPacing {
    last_fan_out: AtomicUsize,
}

impl CommitPacing {
    /// The last published batch reached `deliveries` member queues.
    pub fn record(&self, deliveries: usize) {
        self.last_fan_out.store(deliveries, Ordering::Relaxed);
    }

    /// How long after the start of the previous commit the next may start.
    pub fn gap(&self) -> Duration {
        gap_after(self.last_fan_out.load(Ordering::Relaxed))
    }
}

fn gap_after(deliveries: usize) -> Duration {
    PER_DELIVERY
        .saturating_mul(u32::try_from(deliveries).unwrap_or(u32::MAX))
        .min(MAX_GAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_grows_with_the_fan_out_up_to_its_cap() {
        assert_eq!(gap_after(0), Duration::ZERO);
        assert_eq!(gap_after(3), Duration::from_micros(30));
        assert_eq!(gap_after(500), Duration::from_millis(5));
        assert_eq!(gap_after(1_000), MAX_GAP);
        assert_eq!(gap_after(usize::MAX), MAX_GAP);
    }

    #[test]
    fn the_gap_follows_the_last_recorded_batch() {
        let pacing = CommitPacing::default();
        assert_eq!(pacing.gap(), Duration::ZERO, "nothing published yet");
        pacing.record(10_000);
        assert_eq!(pacing.gap(), MAX_GAP);
        pacing.record(1);
        assert_eq!(pacing.gap(), PER_DELIVERY);
    }
}
