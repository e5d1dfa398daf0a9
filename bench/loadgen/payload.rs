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

    /// The stamp at the start of `text`. One pass over its digits: this runs once per
    /// delivery in a process that shares the cores with the server under test.
    pub fn decode(text: &str) -> Option<Stamp> {
        let mut rest = text.as_bytes().strip_prefix(b"p")?;
        let mut field = || -> Option<u64> {
            let (value, after) = leading_number(rest)?;
            rest = after.strip_prefix(b"-")?;
            Some(value)
        };
        Some(Stamp {
            publisher: u32::try_from(field()?).ok()?,
            step: u32::try_from(field()?).ok()?,
            number: field()?,
            intended_us: field()?,
        })
    }
}

/// The decimal number `bytes` starts with, and what follows it; `None` if it starts with no
/// digit or the number overflows.
fn leading_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for digit in &bytes[..digits] {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some((value, &bytes[digits..]))
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

    #[test]
    fn malformed_stamps_are_refused() {
        assert_eq!(Stamp::decode("p1-2-3-4"), None, "no dash after the time");
        assert_eq!(Stamp::decode("p1-2--4-"), None, "an empty number");
        assert_eq!(Stamp::decode("p1-2-x-4-"), None, "not a number");
        assert_eq!(
            Stamp::decode("p4294967296-0-0-0-"),
            None,
            "publisher beyond u32"
        );
        assert_eq!(
            Stamp::decode("p1-0-0-18446744073709551616-"),
            None,
            "beyond u64"
        );
        assert_eq!(
            Stamp::decode("p1-0-18446744073709551615-5-xx"),
            Some(Stamp {
                publisher: 1,
                step: 0,
                number: u64::MAX,
                intended_us: 5
            })
        );
    }
}
