//! Frames no WebSocket library sends, written by hand to a running server: unmasked client
//! frames, reserved opcodes and bits, control frames too long or fragmented, bad UTF-8,
//! messages over the size limit, and headers cut short. Each gets the close code RFC 6455
//! gives it (1002 protocol error, 1007 bad data, 1009 too big); the server stays up and the
//! people chatting meanwhile notice nothing.

mod common;

use common::raw::{frame, read_until_close, upgraded};
use common::{TestServer, PATIENCE};
use huddle::protocol::close_code;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MASK: Option<[u8; 4]> = Some([0x12, 0x34, 0x56, 0x78]);
const MAX_MESSAGE_BYTES: usize = 1024;

/// What one bad client sends after its upgrade, and the close code it must get.
struct Case {
    what: &'static str,
    bytes: Vec<u8>,
    code: u16,
}

fn cases() -> Vec<Case> {
    let ping = br#"{"type":"ping","t":1}"#;
    let mut rsv1 = frame(0x1, ping, MASK);
    rsv1[0] |= 0x40; // a compressed frame, though no extension was agreed
    let mut fragmented_ping = frame(0x9, b"hi", MASK);
    fragmented_ping[0] &= 0x7f; // FIN off
                                // A header announcing 2^40 bytes, and none of them.
    let mut huge = vec![0x81, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&MASK.unwrap());
    vec![
        Case {
            what: "an unmasked client frame",
            bytes: frame(0x1, ping, None),
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "reserved data opcode 0x3",
            bytes: frame(0x3, ping, MASK),
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "reserved control opcode 0xB",
            bytes: frame(0xB, b"", MASK),
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "a ping of 126 bytes (control frames hold at most 125)",
            bytes: frame(0x9, &[b'p'; 126], MASK),
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "RSV1 set without an extension",
            bytes: rsv1,
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "a fragmented ping",
            bytes: fragmented_ping,
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "a continuation with no message begun",
            bytes: frame(0x0, b"orphan", MASK),
            code: close_code::PROTOCOL_ERROR,
        },
        Case {
            what: "text that is not UTF-8",
            bytes: frame(0x1, &[0xff, 0xfe, 0xfd], MASK),
            code: close_code::INVALID_PAYLOAD,
        },
        Case {
            what: "a message over the size limit",
            bytes: frame(0x1, &vec![b'a'; MAX_MESSAGE_BYTES * 2], MASK),
            code: close_code::MESSAGE_TOO_BIG,
        },
        Case {
            what: "a header announcing 2^40 bytes",
            bytes: huge,
            code: close_code::MESSAGE_TOO_BIG,
        },
    ]
}

#[tokio::test]
async fn each_malformed_frame_gets_its_close_code_and_the_chat_goes_on() {
    let server = TestServer::start_with(|config| {
        config.max_message_bytes = MAX_MESSAGE_BYTES;
        config.rate_limit_per_sec = 0;
    })
    .await;
    let mut ada = server.client().await;
    let mut bob = server.client().await;
    ada.join(None).await;
    bob.join(None).await;
    for (n, case) in cases().into_iter().enumerate() {
        let mut stream = upgraded(server.addr, None).await;
        stream.write_all(&case.bytes).await.unwrap();
        let code = tokio::time::timeout(PATIENCE, read_until_close(&mut stream))
            .await
            .unwrap_or_else(|_| panic!("{}: not closed", case.what));
        assert_eq!(code, case.code, "{}", case.what);
        // Meanwhile, the room hears every message once.
        let text = format!("still chatting after {}", case.what);
        ada.say(&format!("raw-{n}"), &text).await;
        assert_eq!(bob.next_message().await.text, text);
    }
}

#[tokio::test]
async fn headers_cut_short_end_only_their_own_connection() {
    let server = TestServer::start().await;
    let mut ada = server.client().await;
    let mut bob = server.client().await;
    ada.join(None).await;
    bob.join(None).await;
    // Every prefix of a masked frame's header, then the client hangs up.
    let whole = frame(0x1, &[b'x'; 300], MASK);
    for cut in 1..8 {
        let mut stream = upgraded(server.addr, None).await;
        stream.write_all(&whole[..cut]).await.unwrap();
        stream.shutdown().await.unwrap();
        // The server ends the connection (a close frame or just the end of the stream).
        let mut rest = Vec::new();
        let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "a header cut after {cut} bytes held the connection"
        );
        ada.say(&format!("cut-{cut}"), &format!("after a cut at {cut}"))
            .await;
        assert_eq!(
            bob.next_message().await.text,
            format!("after a cut at {cut}")
        );
    }
    // And the server still takes new people.
    let mut cy = server.client().await;
    cy.join(None).await;
    ada.say("last", "welcome Cy").await;
    assert_eq!(cy.next_message().await.text, "welcome Cy");
}
