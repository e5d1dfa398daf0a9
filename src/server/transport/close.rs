//! The end of a connection: why it ends ([`Ending`]) and the close handshake that says so.
//!
//! A close is complete only when both sides have sent their close frame: after sending ours
//! (or answering the peer's), the socket is read until the peer's close arrives, so the close
//! is clean on both sides, within [`CLOSE_HANDSHAKE_TIMEOUT`].

use std::borrow::Cow;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// How long to wait for the peer's half of a close handshake before dropping the connection.
/// Browsers answer within a round trip; three seconds covers a slow mobile link.
pub const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// How the chat loop ended, which decides how the connection is closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The peer sent a close frame; complete its handshake.
    PeerClosed,
    /// Close with this code and reason, then wait for the peer's close.
    Close(u16, Cow<'static, str>),
    /// The transport is gone; nothing more can be sent.
    Vanished,
}

/// How a connection's close went.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// Both sides closed: the client took the close frame, or had sent its own, and finished.
    Handshake,
    /// The client took no part: the transport was gone, or the close frame or the client's
    /// answer did not pass within [`CLOSE_HANDSHAKE_TIMEOUT`]. Whatever is still queued for
    /// it will not be read in time, so the connection is best reset, not closed gracefully.
    Abandoned,
}

/// Closes the connection as `ending` says, then reads until the peer's close (or the timeout)
/// so that both sides see a clean close.
pub async fn close<S>(socket: &mut S, ending: Ending) -> Closed
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    match ending {
        Ending::Vanished => return Closed::Abandoned,
        // tungstenite queued its reply to the peer's close; reading on sends it.
        Ending::PeerClosed => {}
        Ending::Close(code, reason) => {
            let reason = match reason {
                Cow::Borrowed(reason) => Utf8Bytes::from_static(reason),
                Cow::Owned(reason) => Utf8Bytes::from(reason),
            };
            let frame = CloseFrame {
                code: code.into(),
                reason,
            };
            // A client that stopped reading may never take the frame: bounded like the rest
            // of the handshake.
            let sent = tokio::time::timeout(
                CLOSE_HANDSHAKE_TIMEOUT,
                socket.send(Message::Close(Some(frame))),
            );
            if !matches!(sent.await, Ok(Ok(()))) {
                return Closed::Abandoned;
            }
        }
    }
    let drain = async { while let Some(Ok(_)) = socket.next().await {} };
    match tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, drain).await {
        Ok(()) => Closed::Handshake,
        Err(_) => {
            tracing::debug!("peer did not complete the close handshake in time");
            Closed::Abandoned
        }
    }
}
