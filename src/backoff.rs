//! Reconnect delays: exponential backoff with full jitter.
//!
//! After a server restart every client reconnects; if they all wait the same fixed delay they
//! all come back in the same instant, and again after every failure. Full jitter (a uniformly
//! random delay below an exponentially growing ceiling) spreads them out, which AWS's
//! architecture blog measured as the best of the common schemes.

use std::time::Duration;

/// First ceiling: half a second.
pub const BASE: Duration = Duration::from_millis(500);
/// Largest ceiling: thirty seconds.
pub const CAP: Duration = Duration::from_secs(30);
/// A connection that stayed up this long resets the schedule: the next outage starts over
/// with short delays.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Default)]
pub struct Backoff {
    /// Consecutive failed or short-lived connections.
    attempt: u32,
}

impl Backoff {
    /// The ceiling for the next delay: BASE doubled per attempt, at most CAP.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(16));
        BASE.saturating_mul(factor).min(CAP)
    }

    /// The delay before the next attempt, given `random` uniform in [0, 1).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let delay = self.ceiling().mul_f64(random.clamp(0.0, 1.0));
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// The connection proved stable: start over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_half_a_second_up_to_thirty() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..9)
            .map(|_| {
                let ceiling = backoff.ceiling().as_millis() as u64;
                backoff.next_delay(0.5);
                ceiling
            })
            .collect();
        assert_eq!(
            ceilings,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let mut low = Backoff::default();
        let mut high = Backoff::default();
        for _ in 0..4 {
            low.next_delay(0.0);
            high.next_delay(0.999_999);
        }
        assert_eq!(low.next_delay(0.0), Duration::ZERO);
        let top = high.next_delay(0.999_999);
        assert!(
            top <= Duration::from_millis(8_000) && top > Duration::from_millis(7_990),
            "{top:?}"
        );
    }

    #[test]
    fn every_delay_stays_within_its_bounds_whatever_the_randomness() {
        let mut backoff = Backoff::default();
        for n in 0..1_000u32 {
            let ceiling = backoff.ceiling();
            let random = f64::from(n.wrapping_mul(2_654_435_761) % 1_000) / 1_000.0;
            let delay = backoff.next_delay(random);
            assert!(delay <= ceiling && ceiling <= CAP);
        }
        // Out-of-range randomness is clamped rather than trusted.
        assert!(Backoff::default().next_delay(7.0) <= BASE);
        assert_eq!(Backoff::default().next_delay(-1.0), Duration::ZERO);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay(0.5);
        }
        backoff.reset();
        assert_eq!(backoff.ceiling(), BASE);
    }
}
