//! What each published message carries: who sent it, in which step of the run, its number,
//! and when it was *meant* to be sent, padded to the run's message size.
//!
//! Latency is measured from the intended send time, not the actual one: a publisher that
//! falls behind does not hide the delay it suffered (no coordinated omission). Publisher and
//! receivers run on one host, so one wall clock serves both.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub publisher: u32,
    pub step: u32,
    pub number: u64,
    /// Microseconds since the Unix epoch.
    pub intended_us: u64,
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Stamp {
    /// `p<publisher>-<step>-<number>-<intended_us>-` then `x`s up to `size` bytes. Only
    /// characters that need no escaping in JSON.
    pub fn encode(&self, size: usize) -> String {
        let mut text = format!(
            "p{}-{}-{}-{}-",
            self.publisher, self.step, self.number, self.intended_us
        );
        while text.len() < size {
            text.push('x');
        }
        text
    }

    pub fn decode(text: &str) -> Option<Stamp> {
        let mut parts = text.strip_prefix('p')?.splitn(5, '-');
        Some(Stamp {
            publisher: parts.next()?.parse().ok()?,
            step: parts.next()?.parse().ok()?,
            number: parts.next()?.parse().ok()?,
            intended_us: parts.next()?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_encoding_at_the_requested_size() {
        let stamp = Stamp {
            publisher: 3,
            step: 2,
            number: 99,
            intended_us: 1_700_000_000_000_000,
        };
        let text = stamp.encode(64);
        assert_eq!(text.len(), 64);
        assert_eq!(Stamp::decode(&text), Some(stamp));
        assert_eq!(Stamp::decode("hello"), None);
    }
}
