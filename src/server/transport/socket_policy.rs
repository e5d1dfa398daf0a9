//! How every Huddle socket is configured, and how socket errors map to close codes.
//!
//! tungstenite's defaults suit a file transfer, not a chat: a 128 KiB read buffer per
//! connection and 64 MiB messages. Huddle holds many idle connections, so buffers are small
//! and messages are capped (see [`crate::server::config::Config::max_message_bytes`]).

use std::error::Error as _;

use tungstenite::protocol::WebSocketConfig;

use crate::protocol::close_code;
use crate::server::config::Config;
use crate::server::transport::close::Ending;

/// Bytes read from the kernel per read call, allocated up front by every connection. Clients
/// send little (a chat line of a few hundred bytes, a pong), so 512 bytes hold one; a larger
/// message gets room for its whole length once its header is read, and is read in several
/// calls, rather than paid for by every idle connection (each halving of this buffer saved
/// its size again per connection at 19,000 idle connections; see docs/benchmarks.md).
const READ_BUFFER_BYTES: usize = 512;

/// Bytes buffered before tungstenite writes to the kernel: a connection's own frames (acks,
/// pings, errors). The hub's deliveries do not pass through it (see
/// [`crate::server::transport::wire_socket`]).
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Huddle's buffer sizes and message limit, for every socket.
pub fn websocket_config(config: &Config) -> WebSocketConfig {
    let max_message = config.max_message_bytes;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        // Room for one maximal message on top of the coalescing buffer; past it, writing
        // fails rather than buffering without bound.
        .max_write_buffer_size(WRITE_BUFFER_BYTES + 2 * max_message)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// How to end a connection whose socket reported `err` while reading.
pub fn ending_for(err: &axum::Error) -> Ending {
    use tungstenite::error::{Error as WsError, ProtocolError};
    let Some(ws_error) = err.source().and_then(|e| e.downcast_ref::<WsError>()) else {
        return Ending::Vanished;
    };
    match ws_error {
        WsError::Capacity(_) => {
            Ending::Close(close_code::MESSAGE_TOO_BIG, "message too big".into())
        }
        WsError::Utf8(_) => Ending::Close(
            close_code::INVALID_PAYLOAD,
            "text frame is not valid UTF-8".into(),
        ),
        // The peer's TCP connection ended without a close frame (a killed tab, a dropped
        // client): it is gone, not misbehaving, and there is nobody to send 1002 to.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => Ending::Vanished,
        WsError::Protocol(_) => Ending::Close(
            close_code::PROTOCOL_ERROR,
            "websocket protocol violation".into(),
        ),
        _ => Ending::Vanished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{Error as WsError, ProtocolError};

    fn ending(err: WsError) -> Ending {
        ending_for(&axum::Error::new(err))
    }

    #[test]
    fn a_peer_that_vanished_is_not_told_it_broke_the_protocol() {
        assert_eq!(
            ending(WsError::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )),
            Ending::Vanished
        );
        assert_eq!(
            ending(WsError::Protocol(ProtocolError::UnmaskedFrameFromClient)),
            Ending::Close(
                close_code::PROTOCOL_ERROR,
                "websocket protocol violation".into()
            )
        );
        assert!(matches!(
            ending(WsError::Capacity(
                tungstenite::error::CapacityError::MessageTooLong {
                    size: 2,
                    max_size: 1
                }
            )),
            Ending::Close(close_code::MESSAGE_TOO_BIG, _)
        ));
    }
}
