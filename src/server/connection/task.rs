//! The connection task: one per WebSocket connection.
//!
//! It owns the socket (anything [`ChatSocket`]: the wire socket in the server, in-memory
//! channels in this folder's tests) and, in one `select!` loop, reads the client's frames (handing valid
//! ones to the hub and answering bad ones with an error frame) and writes what the hub queued
//! for it. It ends with a proper close handshake: the code says why (see
//! [`crate::protocol::close_code`]), and it keeps reading until the peer's close arrives so the
//! close is clean on both sides.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;

use futures_util::{Sink, StreamExt};

use crate::protocol::{close_code, ErrorCode, HeartbeatSettings, ServerFrame, User, LOBBY};
use crate::server::connection::heartbeat::{first_ping_delay, Beat, Heartbeat};
use crate::server::connection::inbound::Refusal;
use crate::server::connection::pending_acks::PendingAcks;
use crate::server::connection::rate_limit::TokenBucket;
use crate::server::connection::room_cursors::RoomCursors;
use crate::server::connection::writer::{ping, send_json, write_acks, write_batch};
use crate::server::hub::mailbox::{mailbox, ConnectionId, Mailbox, Received, Stop, Subscriber};
use crate::server::hub::socket_quota::Admission;
use crate::server::metrics::CloseCode;
use crate::server::rooms::heads;
use crate::server::shutdown::SocketGuard;
use crate::server::state::Core;
use crate::server::transport::chat_socket::ChatSocket;
use crate::server::transport::close::{close, Closed, Ending};
use crate::server::transport::listener::AcceptedSocket;
use crate::server::transport::socket_policy;
use tokio::time::Instant;
use tungstenite::Message;

/// At most this many queued frames are taken from the mailbox per write (more only when a
/// single committed batch is larger). A connection with a backlog then costs one `send` per
/// batch instead of one write per frame.
const MAX_FRAMES_PER_WRITE: usize = 64;

/// Most sends of one connection waiting for their commit. Past it the connection task stops
/// reading that client until acks catch up: backpressure instead of unbounded memory.
const MAX_SENDS_IN_FLIGHT: usize = 64;

/// Everything a connection task needs besides the socket.
pub struct ConnectionTask {
    pub id: ConnectionId,
    /// The browser session this connection belongs to; `None` for an anonymous guest.
    pub session: Option<String>,
    /// The client's address as per-address limits count it (see
    /// `server::http::client_address`); `None` where the router is served without
    /// [`crate::server::serve`]'s listener.
    pub client: Option<IpAddr>,
    /// Who is connected, shared with the hub's member lists and the registry of connections.
    pub user: Arc<User>,
    /// The last seq of the lobby the client holds (`/ws?since=`): the lobby, which every
    /// connection starts in, resumes from there instead of live from now.
    pub lobby_since: Option<u64>,
    /// This connection's places under the socket caps, given back as it ends.
    pub _admission: Admission,
    /// Keeps shutdown waiting until this connection has closed.
    pub _guard: SocketGuard,
    /// What every socket shares: the hub, stores and settings.
    pub core: Arc<Core>,
    /// The TCP socket under the connection, to reset if the client stops taking part; `None`
    /// where the router is served without [`crate::server::serve`]'s listener.
    pub tcp: Option<AcceptedSocket>,
}

/// What the task tracks about its connection while it runs.
pub(super) struct ConnectionState {
    pub(super) subscriber: Subscriber,
    /// Per joined room, the last seq sent to this client.
    pub(super) delivered: RoomCursors,
    /// Sends in submission order; acks go out in that order.
    pub(super) acks: PendingAcks,
    /// Frames the client may still send before it is rate limited; `None`: no limit.
    pub(super) allowance: Option<TokenBucket>,
}

impl ConnectionTask {
    /// Runs the connection to its end. Generic over the socket so that it can be driven by
    /// in-memory channels in tests.
    ///
    /// An idle connection's memory is mostly this future, so it is shaped to be small: a plain
    /// function returning an `async move` block (an `async fn` keeps a second copy of its
    /// arguments), the chat loop awaited through a pinned local (awaiting a future by value
    /// keeps a second copy of it; rust-lang/rust#62958), and the one-off steps boxed.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    pub fn run<S: ChatSocket + 'static>(self, mut socket: S) -> impl Future<Output = ()> + Send {
        async move {
            tracing::info!(connection = self.id, user = %self.user.name, "connected");
            self.core.metrics.connections_open.inc();
            let (subscriber, mut mailbox) = mailbox(self.id, self.core.sockets.queue_capacity);
            self.core
                .registry
                .add(self.user.clone(), subscriber.clone());
            // Shutdown stops every registered connection; one that registered after that
            // sweep sees that it has begun.
            if self.core.shutdown.has_begun() {
                subscriber.stop(Stop::ShuttingDown);
            }
            // Likewise for logout: one that ended the session while this upgrade was under
            // way swept the registry before this connection was in it.
            if !Box::pin(self.core.auth.still_valid(self.session.as_deref()))
                .await
                .unwrap_or(true)
            {
                subscriber.stop(Stop::LoggedOut);
            }
            let mut connection = ConnectionState {
                subscriber,
                delivered: RoomCursors::default(),
                acks: PendingAcks::default(),
                allowance: (self.core.sockets.rate_per_sec > 0).then(|| {
                    TokenBucket::new(
                        self.core.sockets.rate_per_sec,
                        self.core.sockets.rate_burst,
                        Instant::now(),
                    )
                }),
            };
            let ending = {
                let chat = std::pin::pin!(self.chat(&mut socket, &mut mailbox, &mut connection));
                chat.await
            };
            self.core
                .broker
                .leave(&mut connection.delivered.rooms(), self.id);
            self.core.registry.remove(self.id);
            // Frames still queued are dropped with the mailbox: the close code tells the
            // client.
            drop(mailbox);
            tracing::info!(connection = self.id, ending = ?ending, "disconnecting");
            self.core.metrics.closed(match &ending {
                Ending::Close(code, _) => CloseCode::Server(*code),
                Ending::PeerClosed => CloseCode::ByClient,
                Ending::Vanished => CloseCode::NoClose,
            });
            if Box::pin(close(&mut socket, ending)).await == Closed::Abandoned {
                if let Some(tcp) = &self.tcp {
                    // SAFETY: `socket`, the WebSocket upgraded from this TCP socket, is still
                    // held here; it is dropped, closing the descriptor, only below.
                    if let Err(err) = unsafe { tcp.reset_on_close() } {
                        tracing::debug!(connection = self.id, %err, "cannot reset an abandoned connection");
                    }
                }
            }
            drop(socket);
            self.core.metrics.connections_open.dec();
        }
    }

    async fn chat<S: ChatSocket>(
        &self,
        socket: &mut S,
        mailbox: &mut Mailbox,
        connection: &mut ConnectionState,
    ) -> Ending {
        // Every connection starts in the lobby, live from now, so a plain client can chat at
        // once; a client that holds its history names the last seq with `/ws?since=`, and is
        // caught up before anything live is written (a `join` of the lobby would come after
        // live messages already sent). Other rooms are joined with `join`. (Nothing here
        // is kept in a local that lives on: what a local holds at the loop's awaits is held
        // by every idle connection.)
        // The lobby never leaves memory, so this asks the store nothing; were it to, and the
        // store not answer, the client reconnects later.
        let lobby = match heads::join(&self.core, LOBBY, &connection.subscriber, &self.user).await {
            Ok(lobby) => lobby,
            Err(err) => {
                tracing::warn!(connection = self.id, error = %err, "cannot join the lobby");
                return Ending::Close(close_code::TRY_AGAIN_LATER, "try again later".into());
            }
        };
        connection
            .delivered
            .insert(lobby.id, lobby.room.clone(), lobby.head, lobby.head);
        // Kept (with its member list) only when a resume will use it.
        let resume = self.lobby_since.map(|since| (lobby, since));
        let welcome = ServerFrame::Welcome {
            user: User::clone(&self.user),
            room: LOBBY.to_owned(),
            heartbeat: HeartbeatSettings {
                interval_ms: self.core.sockets.heartbeat_interval.as_millis() as u64,
                timeout_ms: self.core.sockets.heartbeat_timeout.as_millis() as u64,
            },
        }
        .to_json();
        if Box::pin(send_json(socket, welcome, &self.core.metrics))
            .await
            .is_err()
        {
            return Ending::Vanished;
        }
        if let Some((lobby, since)) = resume {
            let resumed = Box::pin(self.resume_lobby(socket, connection, lobby, since)).await;
            if resumed.is_err() {
                return Ending::Vanished;
            }
        }
        // Grown by the first delivery, not up front: most connections sit idle most of the
        // time, and 64 slots of deliveries cost 3.5 KiB each. Released again at heartbeats.
        let mut batch = VecDeque::new();
        let interval = self.core.sockets.heartbeat_interval;
        let mut heartbeat = Heartbeat::with_first_ping(
            interval,
            self.core.sockets.heartbeat_timeout,
            first_ping_delay(interval, fastrand::f64()),
            Instant::now(),
        );
        // One timer for the connection's whole life, moved when it fires: creating one per
        // turn of the loop would register and cancel a timer for every delivery.
        let beat = tokio::time::sleep_until(heartbeat.wake_at());
        tokio::pin!(beat);
        // Everything this loop waits on belongs to this connection alone (the shutdown signal
        // arrives through the mailbox), so no wake-up takes a lock shared with other sockets.
        // Each write is boxed: its state lives only while it runs (one allocation per batch,
        // not per frame) instead of inline in every idle connection's future.
        loop {
            let reading = connection.acks.len() < MAX_SENDS_IN_FLIGHT;
            let outcome = tokio::select! {
                biased;
                received = mailbox.recv_many(&mut batch, MAX_FRAMES_PER_WRITE) => match received {
                    Received::Frames(_) => {
                        let write = write_batch(socket, &mut batch, &mut connection.delivered, &mut connection.acks, &self.core.metrics);
                        Box::pin(self.write(mailbox, write)).await
                    }
                    Received::Stopped(Stop::TooSlow) => return too_slow(),
                    Received::Stopped(Stop::LoggedOut) => {
                        return Ending::Close(close_code::LOGGED_OUT, "logged out".into());
                    }
                    // Boxed: shutdown happens once, and its state would otherwise sit inline
                    // in every connection's task for its whole life.
                    Received::Stopped(Stop::ShuttingDown) => {
                        return Box::pin(self.drain(socket, mailbox, connection)).await;
                    }
                },
                Some(answer) = connection.acks.next_answer(), if !connection.acks.is_empty() => {
                    Box::pin(self.write(mailbox, write_acks(socket, answer, &mut connection.acks, &self.core.metrics))).await
                }
                () = &mut beat => {
                    let outcome = match heartbeat.due(Instant::now()) {
                        Some(Beat::Ping) => {
                            if mailbox.release_idle_buffer() {
                                batch = VecDeque::new();
                            }
                            Box::pin(self.write(mailbox, ping(socket, &self.core.metrics))).await
                        }
                        Some(Beat::Expired) => {
                            return Ending::Close(close_code::HEARTBEAT_TIMEOUT, "no answer to pings".into());
                        }
                        None => Ok(()),
                    };
                    beat.as_mut().reset(heartbeat.wake_at());
                    outcome
                }
                incoming = socket.next(), if reading => {
                    if let Some(Ok(message)) = &incoming {
                        heartbeat.heard();
                        if matches!(message, Message::Text(_) | Message::Binary(_)) {
                            self.core.metrics.frames_received.inc();
                        }
                    }
                    match incoming {
                        None => return Ending::Vanished,
                        // Boxed: its state (a join reads history) is large, and would
                        // otherwise sit inline in every idle connection's task.
                        Some(Ok(Message::Text(text))) => {
                            Box::pin(self.handle_text(socket, connection, text.as_str())).await
                        }
                        Some(Ok(Message::Binary(_))) => {
                            Box::pin(send_json(socket, Refusal::from(ErrorCode::BinaryNotSupported).to_frame_json(), &self.core.metrics)).await
                        }
                        // tungstenite answers pings itself, and yields raw frames only to
                        // writers.
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Ok(()),
                        Some(Ok(Message::Close(_))) => return Ending::PeerClosed,
                        Some(Err(err)) => return socket_policy::ending_for(&err),
                    }
                }
            };
            if outcome.is_err() {
                // A write given up because the hub evicted this client still says why, in
                // case the client reads again; `close` bounds how long that may take.
                if mailbox.stopped() == Some(Stop::TooSlow) {
                    return too_slow();
                }
                return Ending::Vanished;
            }
        }
    }

    /// Runs one write, giving up on a client that has not taken it within the heartbeat
    /// timeout, or that the hub evicts meanwhile: a peer that stops reading must not hold its
    /// task and buffers until the timeout.
    async fn write(
        &self,
        mailbox: &Mailbox,
        write: impl Future<Output = Result<(), axum::Error>>,
    ) -> Result<(), axum::Error> {
        let mut write = std::pin::pin!(write);
        // Almost every write completes at once (the kernel has buffer room); only one that
        // has to wait costs a timer.
        if let Poll::Ready(result) = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
            return result;
        }
        tokio::select! {
            written = tokio::time::timeout(self.core.sockets.heartbeat_timeout, write) => match written {
                Ok(result) => result,
                Err(_) => Err(axum::Error::new("write timed out: the client is not reading")),
            },
            () = mailbox.evicted() => {
                Err(axum::Error::new("evicted while a write was blocked: the client is not reading"))
            }
        }
    }

    /// Shutdown: sends the acks still owed (their messages are committed or about to be),
    /// then asks the client to come back after a random delay within the spread, so that a
    /// restart does not bring every client back in the same second.
    async fn drain<S>(
        &self,
        socket: &mut S,
        mailbox: &Mailbox,
        connection: &mut ConnectionState,
    ) -> Ending
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        while let Some(answer) = connection.acks.next_answer().await {
            if self
                .write(mailbox, send_json(socket, answer, &self.core.metrics))
                .await
                .is_err()
            {
                return Ending::Vanished;
            }
        }
        let spread_ms = self.core.sockets.reconnect_spread.as_millis().max(1) as u64;
        let retry_after_ms = fastrand::u64(0..spread_ms);
        Ending::Close(
            close_code::SERVICE_RESTART,
            format!(r#"{{"retry_after_ms":{retry_after_ms}}}"#).into(),
        )
    }
}

fn too_slow() -> Ending {
    Ending::Close(
        close_code::TOO_SLOW,
        "too slow: messages were missed, reconnect".into(),
    )
}
