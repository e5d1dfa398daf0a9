//! The little of WebSocket the raw-TCP peer speaks: the upgrade handshake (SHA-1 and base64
//! written out, as no crate here provides them) and unfragmented frames up to 65,535 bytes.

use std::io;

/// Appended to the client's key before hashing (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub const OPCODE_TEXT: u8 = 0x1;
pub const OPCODE_CLOSE: u8 = 0x8;
pub const OPCODE_PING: u8 = 0x9;
pub const OPCODE_PONG: u8 = 0xA;

/// A complete upgrade request.
#[derive(Debug, PartialEq)]
pub struct Upgrade {
    /// The request path: the room.
    pub path: String,
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// Bytes the request took.
    pub len: usize,
}

/// The upgrade request at the start of `received`; `None` while it is incomplete.
pub fn parse_upgrade_request(received: &[u8]) -> io::Result<Option<Upgrade>> {
    let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&received[..end]).map_err(invalid)?;
    let path = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .ok_or_else(|| invalid("no request path"))?
        .to_owned();
    let key = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim().to_owned())
        .ok_or_else(|| invalid("no Sec-WebSocket-Key"))?;
    Ok(Some(Upgrade {
        path,
        key,
        len: end + 4,
    }))
}

/// One complete client frame, unmasked.
#[derive(Debug, PartialEq)]
pub struct ClientFrame {
    pub opcode: u8,
    pub payload: Vec<u8>,
    /// Bytes the frame took on the wire.
    pub len: usize,
}

/// The frame at the start of `received`, `None` while it is incomplete. Errors on what this
/// server does not speak: fragments, extensions, unmasked frames, 64-bit lengths.
pub fn parse_client_frame(received: &[u8]) -> io::Result<Option<ClientFrame>> {
    let [first, second, ..] = *received else {
        return Ok(None);
    };
    if first & 0xF0 != 0x80 {
        return Err(invalid("fragmented frame or reserved bits set"));
    }
    if second & 0x80 == 0 {
        return Err(invalid("unmasked client frame"));
    }
    let (payload_len, header_len) = match second & 0x7F {
        127 => return Err(invalid("frame longer than 65,535 bytes")),
        126 => match received.get(2..4) {
            Some(&[high, low]) => (usize::from(u16::from_be_bytes([high, low])), 4),
            _ => return Ok(None),
        },
        short => (usize::from(short), 2),
    };
    let len = header_len + 4 + payload_len;
    if received.len() < len {
        return Ok(None);
    }
    let mask = &received[header_len..header_len + 4];
    let payload = received[header_len + 4..len]
        .iter()
        .zip(mask.iter().cycle())
        .map(|(byte, mask_byte)| byte ^ mask_byte)
        .collect();
    Ok(Some(ClientFrame {
        opcode: first & 0x0F,
        payload,
        len,
    }))
}

/// An unmasked, unfragmented server frame. `payload` is at most 65,535 bytes, as every
/// payload this server receives is.
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.push(0x80 | opcode);
    match u8::try_from(payload.len()) {
        Ok(short) if short <= 125 => frame.push(short),
        _ => {
            frame.push(126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

pub fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 §4.2.2).
pub fn accept_key(key: &str) -> String {
    base64(&sha1(format!("{key}{WEBSOCKET_GUID}").as_bytes()))
}

/// SHA-1 (FIPS 180-4): broken for signatures, but it is what the handshake uses.
pub fn sha1(message: &[u8]) -> [u8; 20] {
    let mut state: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&(message.len() as u64 * 8).to_be_bytes());
    for block in padded.chunks_exact(64) {
        let mut words = [0u32; 80];
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..80 {
            words[i] = (words[i - 3] ^ words[i - 8] ^ words[i - 14] ^ words[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = state;
        for (i, word) in words.into_iter().enumerate() {
            let (mix, constant) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let next = a
                .rotate_left(5)
                .wrapping_add(mix)
                .wrapping_add(e)
                .wrapping_add(constant)
                .wrapping_add(word);
            (a, b, c, d, e) = (next, a, b.rotate_left(30), c, d);
        }
        for (total, added) in state.iter_mut().zip([a, b, c, d, e]) {
            *total = total.wrapping_add(added);
        }
    }
    let mut digest = [0; 20];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let byte_at = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
        let bits = (byte_at(0) << 16) | (byte_at(1) << 8) | byte_at(2);
        // n input bytes make n + 1 characters; '=' pads the group to four.
        for i in 0..4 {
            if i <= group.len() {
                encoded.push(char::from(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn accept_key_matches_the_rfc_6455_example() {
        // RFC 6455 §1.3; tungstenite's own test uses the same pair.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn sha1_matches_fips_180_test_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // Two blocks: 56 bytes leave no room for the length in the first.
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "base64({plain:?})");
        }
    }

    #[test]
    fn masked_client_frame_is_unmasked_once_complete() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(parse_client_frame(&wire[..10]).unwrap(), None);
        let frame = parse_client_frame(&wire).unwrap().unwrap();
        assert_eq!(
            frame,
            ClientFrame {
                opcode: OPCODE_TEXT,
                payload: b"Hello".to_vec(),
                len: 11
            }
        );
    }

    #[test]
    fn extended_length_frames_round_trip() {
        let payload = vec![b'x'; 300];
        let mask = [1, 2, 3, 4];
        let mut wire = vec![0x81, 0x80 | 126, 0x01, 0x2c];
        wire.extend_from_slice(&mask);
        wire.extend(
            payload
                .iter()
                .zip(mask.iter().cycle())
                .map(|(byte, m)| byte ^ m),
        );
        assert_eq!(parse_client_frame(&wire).unwrap().unwrap().payload, payload);
        assert_eq!(
            server_frame(OPCODE_TEXT, &payload)[..4],
            [0x81, 126, 0x01, 0x2c]
        );
    }

    #[test]
    fn server_frame_is_unmasked() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
        assert_eq!(
            server_frame(OPCODE_TEXT, b"Hello"),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
    }

    #[test]
    fn unmasked_and_fragmented_client_frames_are_refused() {
        assert!(parse_client_frame(&[0x81, 0x05, b'H']).is_err());
        assert!(parse_client_frame(&[0x01, 0x85, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn upgrade_request_yields_path_key_and_length() {
        let request =
            b"GET /ws/r/room-1 HTTP/1.1\r\nHost: x\r\nsec-websocket-key: abc==\r\n\r\nrest";
        let upgrade = parse_upgrade_request(request).unwrap().unwrap();
        assert_eq!(upgrade.path, "/ws/r/room-1");
        assert_eq!(
            (upgrade.key.as_str(), &request[upgrade.len..]),
            ("abc==", &b"rest"[..])
        );
        assert_eq!(parse_upgrade_request(&request[..20]).unwrap(), None);
    }
}
