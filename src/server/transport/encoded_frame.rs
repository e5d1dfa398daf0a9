//! A text frame encoded for the wire once, for every connection it goes to.
//!
//! A server's frames are not masked (RFC 6455 §5.1), so a message's frame is the same bytes
//! on every connection: the hub encodes it once, and each socket hands those shared bytes to
//! the kernel as they are (see [`crate::server::transport::wire_socket`]). Encoding per connection, as a
//! WebSocket library does, copies every message into each connection's buffer and touches a
//! shared refcount per frame and recipient; at a thousand members that was a fifth of the
//! server's time (docs/performance.md).

use bytes::{BufMut, Bytes, BytesMut};

/// FIN set, opcode 1 (text): a whole text message in one frame.
const FIN_TEXT: u8 = 0x81;
/// Payload lengths up to this fit in the header's first length byte.
const SHORT_LENGTH_MAX: usize = 125;
/// The length byte meaning "a 16-bit length follows", and "a 64-bit length follows".
const LENGTH_16: u8 = 126;
const LENGTH_64: u8 = 127;

/// One text message as a server writes it: header and payload, shared by every recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    wire: Bytes,
    /// Where the text starts in `wire`: the header's length (2, 4 or 10 bytes).
    header_len: u8,
}

impl EncodedFrame {
    /// Encodes `text` as a single unmasked text frame.
    pub fn text(text: impl AsRef<str>) -> Self {
        let text = text.as_ref().as_bytes();
        let mut wire = BytesMut::with_capacity(text.len() + 10);
        wire.put_u8(FIN_TEXT);
        match text.len() {
            len if len <= SHORT_LENGTH_MAX => wire.put_u8(len as u8),
            len if len <= usize::from(u16::MAX) => {
                wire.put_u8(LENGTH_16);
                wire.put_u16(len as u16);
            }
            len => {
                wire.put_u8(LENGTH_64);
                wire.put_u64(len as u64);
            }
        }
        let header_len = wire.len() as u8;
        wire.put_slice(text);
        EncodedFrame {
            wire: wire.freeze(),
            header_len,
        }
    }

    /// The bytes to write: header, then text.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The wire bytes from `from` on, sharing this frame's memory: what is left of a frame
    /// whose write was cut short.
    pub fn wire_from(&self, from: usize) -> Bytes {
        self.wire.slice(from..)
    }

    /// The text the frame carries.
    pub fn as_str(&self) -> &str {
        // Built only from a `&str` in `text`, and never changed since.
        std::str::from_utf8(&self.wire[usize::from(self.header_len)..])
            .expect("an encoded frame holds the text it was built from")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::Role;
    use tungstenite::{Message, WebSocket};

    /// Reads `wire` back as a client would, with tungstenite's own decoder.
    fn decode(wire: &[u8]) -> String {
        let mut client =
            WebSocket::from_raw_socket(std::io::Cursor::new(wire.to_vec()), Role::Client, None);
        match client.read().expect("a valid frame") {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    #[test]
    fn every_length_form_decodes_to_the_same_text() {
        // 125 and 126 straddle the one-byte length; 65,536 needs the 64-bit form.
        for len in [0, 1, 125, 126, 300, 65_535, 65_536, 70_000] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let frame = EncodedFrame::text(&text);
            assert_eq!(frame.as_str(), text);
            assert_eq!(decode(frame.wire()), text, "length {len}");
        }
    }

    #[test]
    fn the_header_is_fin_text_unmasked() {
        let frame = EncodedFrame::text("hi");
        assert_eq!(frame.wire(), b"\x81\x02hi");
    }
}
