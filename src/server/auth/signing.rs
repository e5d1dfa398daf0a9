//! Signing cookie values, so that a cookie the server did not issue is refused before any
//! lookup.
//!
//! A session cookie is `<session id>.<HMAC-SHA256 of it>`, both hex. The key is the server's
//! own: `--session-secret` when several nodes must accept each other's cookies, otherwise one
//! generated on first run and kept in the database, so sessions survive restarts.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Signer { key: key.to_vec() }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    /// `value.signature`.
    pub fn sign(&self, value: &str) -> String {
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        format!("{value}.{}", hex(&mac.finalize().into_bytes()))
    }

    /// The value of a signed string, if its signature is this server's (compared in constant
    /// time).
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, signature) = signed.rsplit_once('.')?;
        let signature = unhex(signature)?;
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        mac.verify_slice(&signature).ok()?;
        Some(value)
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `n` bytes from the operating system's secure random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}

/// A random token of 32 hex digits (128 bits), for session ids and API tokens.
pub fn random_token() -> String {
    hex(&random_bytes::<16>())
}

/// SHA-256 of `value`, hex: how API tokens are stored, so a copy of the database does not
/// hand out working tokens.
pub fn sha256_hex(value: &str) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_value_verifies_and_a_tampered_one_does_not() {
        let signer = Signer::new(b"key");
        let signed = signer.sign("abc123");
        assert_eq!(signer.verify(&signed), Some("abc123"));
        let tampered = signed.replacen("abc123", "abc124", 1);
        assert_eq!(signer.verify(&tampered), None);
        assert_eq!(Signer::new(b"other key").verify(&signed), None);
        for garbage in ["", ".", "abc", "abc.zz", "abc.123"] {
            assert_eq!(signer.verify(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn random_tokens_differ_and_are_hex() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
