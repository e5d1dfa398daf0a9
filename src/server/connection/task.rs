//! The socket task: one per WebSocket connection.
//!
//! It owns the socket and, in one `select!` loop, reads the client's frames (handing valid
//! ones to the hub and answering bad ones with an error frame) and writes what the hub queued
//! for it. It ends with a proper close handshake: the code says why (see
//! [`crate::protocol::close_code`]), and it keeps reading until the peer's close arrives so the
//! close is clean on both sides.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, StreamExt};

use crate::protocol::{
    close_code, ErrorCode, HeartbeatSettings, RoomEntry, RoomKind, ServerFrame, User, LOBBY,
};
use crate::server::clock::unix_millis;
use crate::server::connection::heartbeat::{Beat, Heartbeat};
use crate::server::connection::inbound::{parse_text_frame, Refusal, Request, SendRequest};
use crate::server::connection::pending_acks::PendingAcks;
use crate::server::connection::rate_limit::TokenBucket;
use crate::server::connection::room_cursors::RoomCursors;
use crate::server::history::committer::CommitError;
use crate::server::hub::fanout::Joined;
use crate::server::hub::mailbox::{
    mailbox, ConnectionId, Delivery, Mailbox, Received, Stop, Subscriber, TO_CONNECTION,
    UNSEQUENCED,
};
use crate::server::hub::registry::Admission;
use crate::server::rooms::directory::Denied;
use crate::server::shutdown::SocketGuard;
use crate::server::state::Core;
use crate::server::store::{Appended, NewMessage, StoreError};
use crate::server::transport::close::{close, Closed, Ending};
use crate::server::transport::listener::AcceptedSocket;
use crate::server::transport::socket_policy;
use crate::server::transport::wire_socket::WireSocket;
use tokio::time::Instant;
use tungstenite::{Message, Utf8Bytes};

/// At most this many queued frames are taken from the mailbox per write (more only when a
/// single committed batch is larger). A connection with a backlog then costs one `send` per
/// batch instead of one write per frame.
const MAX_FRAMES_PER_WRITE: usize = 64;

/// Most sends of one connection waiting for their commit. Past it the socket task stops
/// reading that client until acks catch up: backpressure instead of unbounded memory.
const MAX_SENDS_IN_FLIGHT: usize = 64;

/// Everything a socket task needs besides the socket.
pub struct ConnectionTask {
    pub id: ConnectionId,
    /// The browser session this connection belongs to; `None` for an anonymous guest.
    pub session: Option<String>,
    /// Who is connected, shared with the hub's member lists and the registry of connections.
    pub user: Arc<User>,
    /// This connection's place under the person's socket cap, given back as it ends.
    pub _admission: Option<Admission>,
    /// Keeps shutdown waiting until this connection has closed.
    pub _guard: SocketGuard,
    /// What every socket shares: the hub, stores and settings.
    pub core: Arc<Core>,
    /// The TCP socket under the connection, to reset if the client stops taking part; `None`
    /// where the router is served without [`crate::server::serve`]'s listener.
    pub tcp: Option<AcceptedSocket>,
}

/// What the socket task tracks about one connection while it runs.
struct ConnectionState {
    subscriber: Subscriber,
    /// Per joined room, the last seq sent to this client.
    delivered: RoomCursors,
    /// Sends in submission order; acks go out in that order.
    acks: PendingAcks,
    /// Frames the client may still send before it is rate limited; `None`: no limit.
    allowance: Option<TokenBucket>,
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
    pub fn run(self, mut socket: WireSocket) -> impl Future<Output = ()> + Send {
        async move {
            tracing::info!(connection = self.id, user = %self.user.name, "connected");
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
            self.core.hub.leave(connection.delivered.rooms(), self.id);
            self.core.registry.remove(self.id);
            // Frames still queued are dropped with the mailbox: the close code tells the
            // client.
            drop(mailbox);
            tracing::info!(connection = self.id, ending = ?ending, "disconnecting");
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
        }
    }

    async fn chat(
        &self,
        socket: &mut WireSocket,
        mailbox: &mut Mailbox,
        connection: &mut ConnectionState,
    ) -> Ending {
        // Every connection starts in the lobby, live from now, so a plain client can chat at
        // once; a page then sends `join` with the last seq it holds to catch up. (Nothing here
        // is kept in a local that lives on: what a local holds at the loop's awaits is held
        // by every idle connection.)
        let Joined { id, room, head, .. } =
            self.core
                .hub
                .join(LOBBY, connection.subscriber.clone(), &self.user);
        connection.delivered.insert(id, room, head);
        let welcome = ServerFrame::Welcome {
            user: User::clone(&self.user),
            room: LOBBY.to_owned(),
            heartbeat: HeartbeatSettings {
                interval_ms: self.core.sockets.heartbeat_interval.as_millis() as u64,
                timeout_ms: self.core.sockets.heartbeat_timeout.as_millis() as u64,
            },
        }
        .to_json();
        if Box::pin(send_json(socket, welcome)).await.is_err() {
            return Ending::Vanished;
        }
        // Grown by the first delivery, not up front: most connections sit idle most of the
        // time, and 64 slots of deliveries cost 3.5 KiB each. Released again at heartbeats.
        let mut batch = VecDeque::new();
        let mut heartbeat = Heartbeat::new(
            self.core.sockets.heartbeat_interval,
            self.core.sockets.heartbeat_timeout,
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
                        let write = write_batch(socket, &mut batch, &mut connection.delivered, &mut connection.acks);
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
                    Box::pin(self.write(mailbox, write_acks(socket, answer, &mut connection.acks))).await
                }
                () = &mut beat => {
                    let outcome = match heartbeat.due(Instant::now()) {
                        Some(Beat::Ping) => {
                            if mailbox.release_idle_buffer() {
                                batch = VecDeque::new();
                            }
                            Box::pin(self.write(mailbox, ping(socket))).await
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
                    if let Some(Ok(_)) = &incoming {
                        heartbeat.heard();
                    }
                    match incoming {
                        None => return Ending::Vanished,
                        // Boxed: its state (a join reads history) is large, and would
                        // otherwise sit inline in every idle connection's task.
                        Some(Ok(Message::Text(text))) => {
                            Box::pin(self.handle_text(socket, connection, text.as_str())).await
                        }
                        Some(Ok(Message::Binary(_))) => {
                            Box::pin(send_json(socket, Refusal::from(ErrorCode::BinaryNotSupported).to_frame_json())).await
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
                .write(mailbox, send_json(socket, answer))
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

    /// Handles one text frame. A refusal is reported to this client only.
    async fn handle_text<S>(
        &self,
        socket: &mut S,
        connection: &mut ConnectionState,
        frame: &str,
    ) -> Result<(), axum::Error>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        let parsed = parse_text_frame(frame);
        // Answers to our heartbeat are free; everything else, refused frames included,
        // counts against the connection's rate.
        let limited = match &parsed {
            Ok(Request::Pong) => Ok(()),
            _ => match &mut connection.allowance {
                Some(allowance) => allowance.take(Instant::now()),
                None => Ok(()),
            },
        };
        let result = match (limited, parsed) {
            (Err(wait), parsed) => Err(self.rate_limited(wait, parsed.ok()).into()),
            (Ok(()), Ok(Request::Send(request))) => self.submit(connection, request).await,
            (Ok(()), Ok(Request::Join { room, since })) => {
                self.join(socket, connection, room, since).await
            }
            (Ok(()), Ok(Request::Ping { t })) => {
                Ok(send_json(socket, ServerFrame::Pong { t }.to_json()).await?)
            }
            (Ok(()), Ok(Request::Pong)) => Ok(()),
            (Ok(()), Ok(Request::Leave { room })) => self.leave(socket, connection, room).await,
            (Ok(()), Ok(Request::Typing { room })) => self.typing(connection, &room),
            (Ok(()), Ok(Request::Read { room, seq })) => self.read(connection, &room, seq).await,
            (Ok(()), Ok(Request::OpenDm { user })) => self.open_dm(user).await,
            (Ok(()), Err(refusal)) => Err(refusal.into()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Handling::Socket(err)) => Err(err),
            Err(Handling::Refused(refusal)) => {
                tracing::debug!(connection = self.id, code = ?refusal.code, "refused a frame");
                send_json(socket, refusal.to_frame_json()).await
            }
        }
    }

    fn rate_limited(&self, wait: Duration, request: Option<Request>) -> Refusal {
        let retry_ms = wait.as_millis().max(1);
        let resend = match request {
            Some(Request::Send(SendRequest {
                client_id: Some(client_id),
                ..
            })) => {
                format!("; the message was not stored: send it again with client_id {client_id:?}")
            }
            Some(Request::Send(_)) => "; the message was not stored: send it again".to_owned(),
            _ => String::new(),
        };
        Refusal::new(
            ErrorCode::RateLimited,
            format!(
                "rate limited: at most {} frames/s, bursts of {}; retry in {retry_ms} ms{resend}",
                self.core.sockets.rate_per_sec, self.core.sockets.rate_burst
            ),
        )
    }

    /// Hands a message to the committer; its ack is sent when the commit completes.
    async fn submit(
        &self,
        connection: &mut ConnectionState,
        request: SendRequest,
    ) -> Result<(), Handling> {
        joined(connection, &request.room)?;
        let client_id = request
            .client_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let message = NewMessage {
            room: request.room,
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.clone(),
            user: User::clone(&self.user),
            text: request.text,
            ts: unix_millis(),
        };
        // Never the body: logs at info and above must not leak what people write.
        tracing::debug!(connection = self.id, room = %message.room, id = %message.id, "submitted");
        let pending = self.core.committer.submit_from(self.id, message).await;
        connection.acks.push_back(Box::pin(async move {
            ack_or_error(client_id, pending.outcome().await)
        }));
        Ok(())
    }

    /// Joins `room`: sends what the client missed after `since`, then `joined`; from then on
    /// the room's live messages follow, with no gap and no duplicate at the seam.
    async fn join<S>(
        &self,
        socket: &mut S,
        connection: &mut ConnectionState,
        room: String,
        since: Option<u64>,
    ) -> Result<(), Handling>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        match self.core.directory.authorize(&room, &self.user.id).await {
            Ok(RoomKind::Public) if self.session.is_some() => self
                .core
                .directory
                .add_to_list(&room, &self.user)
                .await
                .map_err(store_refusal)?,
            Ok(_) => {}
            Err(Denied::Private(room)) => {
                return Err(Refusal::new(
                    ErrorCode::Forbidden,
                    format!("room {room:?} is private: only its members may join it"),
                )
                .into())
            }
            Err(Denied::Store(err)) => return Err(store_refusal(err).into()),
        }
        let Joined {
            id,
            room: shared_name,
            head,
            online,
        } = self
            .core
            .hub
            .join(&room, connection.subscriber.clone(), &self.user);
        // Whatever happens next, hub deliveries after `head` are the ones still to send.
        connection.delivered.insert(id, shared_name, head);
        let since = since.unwrap_or(head);
        if since > head {
            return Err(Refusal::new(
                ErrorCode::SeqBeyondHead,
                format!("since {since} is beyond the last message of {room:?}, which is {head}"),
            )
            .into());
        }
        if head - since > self.core.sockets.resume_limit {
            let resync = ServerFrame::Resync { room, head };
            return Ok(send_json(socket, resync.to_json()).await?);
        }
        let missed = self
            .core
            .store
            .range(&room, since, head)
            .await
            .map_err(|err| {
                Refusal::new(
                    ErrorCode::StoreUnavailable,
                    format!("cannot load history: {err}; join again"),
                )
            })?;
        for message in &missed {
            socket.feed(text_message(message.to_frame_json())).await?;
        }
        let joined = ServerFrame::Joined {
            room: room.clone(),
            head,
        };
        socket.feed(text_message(joined.to_json())).await?;
        let members = ServerFrame::Members { room, online };
        Ok(send_json(socket, members.to_json()).await?)
    }

    fn typing(&self, connection: &ConnectionState, room: &str) -> Result<(), Handling> {
        joined(connection, room)?;
        self.core.broker.typing(room, &self.user);
        Ok(())
    }

    /// Remembers how far the person has read (for unread counts); anonymous guests have no
    /// room list to keep it in.
    async fn read(
        &self,
        connection: &mut ConnectionState,
        room: &str,
        seq: u64,
    ) -> Result<(), Handling> {
        joined(connection, room)?;
        if self.session.is_some() {
            self.core
                .directory
                .mark_read(room, &self.user.id, seq)
                .await
                .map_err(store_refusal)?;
        }
        Ok(())
    }

    /// Leaves `room`: no more of its messages, presence or typing; off the room list.
    async fn leave<S>(
        &self,
        socket: &mut S,
        connection: &mut ConnectionState,
        room: String,
    ) -> Result<(), Handling>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        joined(connection, &room)?;
        connection.delivered.remove(&room);
        self.core.hub.leave([room.as_str()], self.id);
        if self.session.is_some() {
            self.core
                .directory
                .remove_from_list(&room, &self.user.id)
                .await
                .map_err(store_refusal)?;
        }
        Ok(send_json(socket, ServerFrame::Left { room }.to_json()).await?)
    }

    /// Opens the DM with `other_id`; both people's connections are told (`room_added`).
    async fn open_dm(&self, other_id: String) -> Result<(), Handling> {
        if self.session.is_none() {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "pick a name or log in before opening direct messages",
            )
            .into());
        }
        if other_id == self.user.id {
            return Err(Refusal::new(ErrorCode::UnknownUser, "that is you").into());
        }
        let other = self
            .core
            .directory
            .find_user(&other_id)
            .await
            .map_err(store_refusal)?
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::UnknownUser,
                    format!("no one has the id {other_id:?}"),
                )
            })?;
        let room = self
            .core
            .directory
            .open_dm(&self.user, &other)
            .await
            .map_err(store_refusal)?;
        for (to, with) in [(&self.user.id, &other), (&other.id, &*self.user)] {
            let added = ServerFrame::RoomAdded {
                room: RoomEntry {
                    name: room.clone(),
                    kind: RoomKind::Dm,
                    with: Some(with.clone()),
                    unread: 0,
                    head: self.core.hub.head(&room),
                },
            };
            self.core.broker.send_to_people(&added.to_json(), Some(to));
        }
        Ok(())
    }
}

/// Refuses a frame for a room this connection has not joined.
fn joined(connection: &ConnectionState, room: &str) -> Result<(), Refusal> {
    if connection.delivered.contains(room) {
        return Ok(());
    }
    Err(Refusal::new(
        ErrorCode::UnknownRoom,
        format!("join room {room:?} first"),
    ))
}

fn store_refusal(err: StoreError) -> Refusal {
    Refusal::new(ErrorCode::StoreUnavailable, format!("{err}; try again"))
}

/// Why handling a client frame stopped short.
enum Handling {
    /// The frame is refused: tell this client, keep the connection.
    Refused(Refusal),
    /// Writing to the socket failed: the connection is over.
    Socket(axum::Error),
}

impl From<Refusal> for Handling {
    fn from(refusal: Refusal) -> Self {
        Handling::Refused(refusal)
    }
}

impl From<axum::Error> for Handling {
    fn from(err: axum::Error) -> Self {
        Handling::Socket(err)
    }
}

fn too_slow() -> Ending {
    Ending::Close(
        close_code::TOO_SLOW,
        "too slow: messages were missed, reconnect".into(),
    )
}

/// A WebSocket Ping (browsers and libraries answer it by themselves) and a `ping` frame (the
/// page answers it, and measures round-trip time with its own).
async fn ping<S>(socket: &mut S) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    socket.feed(Message::Ping(Default::default())).await?;
    let frame = ServerFrame::Ping { t: unix_millis() };
    socket.feed(text_message(frame.to_json())).await?;
    socket.flush().await
}

fn ack_or_error(client_id: String, outcome: Result<Appended, CommitError>) -> String {
    match outcome {
        Ok(appended) => {
            let message = appended.message();
            ServerFrame::Ack {
                room: message.room.clone(),
                client_id,
                id: message.id.clone(),
                seq: message.seq,
            }
            .to_json()
        }
        Err(err) => ServerFrame::Error {
            code: ErrorCode::StoreUnavailable,
            message: format!("{err}; retry with client_id {client_id:?}"),
        }
        .to_json(),
    }
}

async fn send_json<S>(socket: &mut S, json: String) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    socket.send(text_message(json)).await
}

/// Writes `first` and every other answer already ready, then flushes once.
async fn write_acks<S>(
    socket: &mut S,
    first: String,
    acks: &mut PendingAcks,
) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    socket.feed(text_message(first)).await?;
    feed_ready_acks(socket, acks).await?;
    socket.flush().await
}

/// Feeds the answers to this connection's sends that are already ready, oldest first, without
/// waiting for any: they go out with whatever else this flush writes. A sender's own copy of
/// its message and the ack for it (committed and published together) then cost one send,
/// not one each.
async fn feed_ready_acks<S>(socket: &mut S, acks: &mut PendingAcks) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    // Polling without the task's waker is safe: the chat loop polls the pending answers
    // again, with it, before it waits.
    while let Some(Some(answer)) = acks.next_answer().now_or_never() {
        socket.feed(text_message(answer)).await?;
    }
    Ok(())
}

/// Writes queued hub deliveries (their shared bytes, gathered per write), skipping any already
/// sent while catching up, then the acks already ready.
async fn write_batch(
    socket: &mut WireSocket,
    batch: &mut VecDeque<Delivery>,
    delivered: &mut RoomCursors,
    acks: &mut PendingAcks,
) -> Result<(), axum::Error> {
    for delivery in batch.iter_mut() {
        delivery.unsent = unsent_from(delivery, delivered);
    }
    socket.write_deliveries(batch).await?;
    batch.clear();
    feed_ready_acks(socket, acks).await?;
    socket.flush().await
}

/// Where `delivery`'s frames still to write begin, moving this connection's cursor for its
/// room past them. Frames for the connection itself (a notice, a new room) are all written,
/// frames for a room it has left since they were queued none; a stored message already sent
/// while catching up is skipped. Presence and typing are not stored, so there is nothing to
/// skip while catching up: they are always written.
fn unsent_from(delivery: &Delivery, delivered: &mut RoomCursors) -> usize {
    if delivery.room == TO_CONNECTION {
        return 0;
    }
    let Some(last) = delivered.last_sent(delivery.room) else {
        return delivery.frames.len();
    };
    // A room's frames are in seq order, so what was already sent is a prefix: found by
    // halving, not by reading every frame of the batch for every member.
    let sent = delivery
        .frames
        .partition_point(|(seq, _)| *seq != UNSEQUENCED && *seq <= *last);
    if let Some(&(newest, _)) = delivery.frames.last() {
        if newest != UNSEQUENCED {
            *last = (*last).max(newest);
        }
    }
    sent
}

fn text_message(json: String) -> Message {
    Message::Text(Utf8Bytes::from(json))
}
