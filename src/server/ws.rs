//! The socket task: one per WebSocket connection.
//!
//! It owns the socket and, in one `select!` loop, reads the client's frames (handing valid
//! ones to the hub and answering bad ones with an error frame) and writes what the hub queued
//! for it. It ends with a proper close handshake: the code says why (see
//! [`crate::protocol::close_code`]), and it keeps reading until the peer's close arrives so the
//! close is clean on both sides.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, SinkExt, Stream, StreamExt};

use crate::protocol::{close_code, ErrorCode, ServerFrame, User, LOBBY};
use crate::server::hub::{Hub, Post};
use crate::server::inbound::{parse_text_frame, Refusal};
use crate::server::mailbox::{mailbox, ConnectionId, Mailbox};
use crate::server::shutdown::Shutdown;
use crate::server::state::AppState;
use crate::server::{identity, socket_policy};

/// How long to wait for the peer's half of a close handshake before dropping the connection.
/// Browsers answer within a round trip; three seconds covers a slow mobile link.
pub const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// At most this many queued frames are written before one flush. A connection with a backlog
/// then costs one syscall per batch instead of one per frame.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Retry-After, in seconds, on upgrades refused during shutdown.
const RETRY_AFTER_SECS: &str = "5";

/// `GET /ws`: upgrades to a chat connection in the lobby.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if state.shutdown.has_begun() {
        return refuse_during_shutdown();
    }
    let user = identity::from_headers(&headers).unwrap_or_else(identity::guest);
    let guard = state.shutdown.guard();
    let id = state.next_connection_id();
    let (subscriber, mailbox) = mailbox(id, state.config.queue_capacity);
    let session = Session {
        id,
        user,
        hub: state.hub.clone(),
        shutdown: state.shutdown.clone(),
    };
    if let Err(err) = state.hub.join(LOBBY, subscriber) {
        tracing::error!(%err, "the lobby is missing");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    socket_policy::configure(ws, &state.config)
        .on_failed_upgrade(|err| tracing::debug!(%err, "websocket upgrade failed"))
        .on_upgrade(move |socket: WebSocket| async move {
            let _guard = guard;
            session.run(socket, mailbox).await;
        })
}

pub fn refuse_during_shutdown() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        "server is shutting down\n",
    )
        .into_response()
}

/// Everything a socket task needs besides the socket.
pub struct Session {
    pub id: ConnectionId,
    pub user: User,
    pub hub: Arc<Hub>,
    pub shutdown: Shutdown,
}

/// How the chat loop ended, which decides how the connection is closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The peer sent a close frame; complete its handshake.
    PeerClosed,
    /// Close with this code and reason, then wait for the peer's close.
    Close(u16, &'static str),
    /// The transport is gone; nothing more can be sent.
    Vanished,
}

impl Session {
    /// Runs the connection to its end. Generic over the socket so that it can be driven by
    /// in-memory channels in tests.
    pub async fn run<S>(self, mut socket: S, mut mailbox: Mailbox)
    where
        S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
    {
        tracing::info!(connection = self.id, user = %self.user.name, "connected");
        let ending = self.chat(&mut socket, &mut mailbox).await;
        self.hub.leave_all(self.id);
        // Frames still queued are dropped with the mailbox: the close code tells the client.
        drop(mailbox);
        tracing::info!(connection = self.id, ending = ?ending, "disconnecting");
        close(socket, ending).await;
    }

    async fn chat<S>(&self, socket: &mut S, mailbox: &mut Mailbox) -> Ending
    where
        S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
    {
        let welcome = ServerFrame::Welcome {
            user: self.user.clone(),
            room: LOBBY.to_owned(),
        };
        if socket.send(text_message(welcome.to_json())).await.is_err() {
            return Ending::Vanished;
        }
        let mut batch = Vec::with_capacity(MAX_FRAMES_PER_FLUSH);
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.begun() => {
                    return Ending::Close(close_code::GOING_AWAY, "server shutting down");
                }
                _ = mailbox.evicted.cancelled() => {
                    return Ending::Close(close_code::TOO_SLOW, "too slow: messages were missed, reconnect");
                }
                received = mailbox.frames.recv_many(&mut batch, MAX_FRAMES_PER_FLUSH) => {
                    if received == 0 {
                        // Every room let go of this connection; only eviction does that.
                        return Ending::Close(close_code::TOO_SLOW, "too slow: messages were missed, reconnect");
                    }
                    if write_batch(socket, &mut batch).await.is_err() {
                        return Ending::Vanished;
                    }
                }
                incoming = socket.next() => match incoming {
                    None => return Ending::Vanished,
                    Some(Ok(Message::Text(text))) => {
                        if let Err(refusal) = self.handle_text(text.as_str()) {
                            if socket.send(text_message(refusal.to_frame_json())).await.is_err() {
                                return Ending::Vanished;
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let refusal = Refusal::from(ErrorCode::BinaryNotSupported);
                        if socket.send(text_message(refusal.to_frame_json())).await.is_err() {
                            return Ending::Vanished;
                        }
                    }
                    // tungstenite answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) => return Ending::PeerClosed,
                    Some(Err(err)) => return socket_policy::ending_for(&err),
                },
            }
        }
    }

    /// Handles one text frame; a refusal is reported to this client only.
    fn handle_text(&self, frame: &str) -> Result<(), Refusal> {
        let request = parse_text_frame(frame).inspect_err(|refusal| {
            tracing::debug!(connection = self.id, code = ?refusal.code, "refused a frame");
        })?;
        let post = Post {
            room: &request.room,
            author: &self.user,
            client_id: request.client_id,
            text: request.text,
        };
        let message = self
            .hub
            .publish(self.id, post)
            .map_err(|err| Refusal::new(ErrorCode::UnknownRoom, err.to_string()))?;
        // Never the body: logs at info and above must not leak what people write.
        tracing::debug!(connection = self.id, room = %message.room, id = %message.id, "published");
        Ok(())
    }
}

async fn write_batch<S>(socket: &mut S, batch: &mut Vec<Utf8Bytes>) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    for frame in batch.drain(..) {
        socket.feed(Message::Text(frame)).await?;
    }
    socket.flush().await
}

fn text_message(json: String) -> Message {
    Message::Text(Utf8Bytes::from(json))
}

/// Closes the connection as `ending` says, then reads until the peer's close (or the timeout)
/// so that both sides see a clean close.
pub async fn close<S>(mut socket: S, ending: Ending)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    match ending {
        Ending::Vanished => return,
        // tungstenite queued its reply to the peer's close; reading on sends it.
        Ending::PeerClosed => {}
        Ending::Close(code, reason) => {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            if socket.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
        }
    }
    let drain = async { while let Some(Ok(_)) = socket.next().await {} };
    if tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, drain)
        .await
        .is_err()
    {
        tracing::debug!("peer did not complete the close handshake in time");
    }
}
