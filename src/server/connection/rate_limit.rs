//! A token bucket per connection: a steady rate with room for a burst.
//!
//! A person typing fast sends a few messages in a second, then pauses; a script flooding a
//! room does not pause. The bucket holds `burst` tokens, refills at `per_second`, and every
//! client frame but heartbeat answers takes one. An empty bucket refuses the frame with
//! `rate_limited` and says when a token will be back, so a well-behaved client can retry.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            per_second: f64::from(per_second.max(1)),
            burst,
            tokens: burst,
            refilled_at: now,
        }
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - self.tokens) / self.per_second,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_steady_rate_is_enforced() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 20, start);
        for n in 0..20 {
            assert!(bucket.take(start).is_ok(), "burst token {n}");
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_millis(100),
            "one token per 100 ms at 10/s"
        );
        let later = start + Duration::from_millis(100);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        // A long pause refills to the burst, not beyond it.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..20 {
            assert!(bucket.take(much_later).is_ok());
        }
        assert!(bucket.take(much_later).is_err());
    }
}
