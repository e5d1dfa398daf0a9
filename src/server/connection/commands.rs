//! What a connection's task does for each frame its client sends: one handler per
//! [`Request`], each refusing what it cannot do with an error frame for this client only.

use std::time::Duration;

use futures_util::{Sink, SinkExt};
use tokio::time::Instant;
use tungstenite::Message;

use crate::protocol::{ErrorCode, RoomEntry, RoomKind, ServerFrame, User, LOBBY};
use crate::server::connection::inbound::{parse_text_frame, Refusal, Request, SendRequest};
use crate::server::connection::room_cursors::still_to_send;
use crate::server::connection::task::{ConnectionState, ConnectionTask};
use crate::server::connection::writer::{ack_or_error, send_json, text_message};
use crate::server::hub::fanout::Joined;
use crate::server::rooms::directory::Denied;
use crate::server::rooms::heads::{self, JoinFailed};
use crate::server::store::{NewMessage, StoreError};

impl ConnectionTask {
    /// Handles one text frame. A refusal is reported to this client only.
    pub(super) async fn handle_text<S>(
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
            (Ok(()), Ok(Request::Ping { t })) => Ok(send_json(
                socket,
                ServerFrame::Pong { t }.to_json(),
                &self.core.metrics,
            )
            .await?),
            (Ok(()), Ok(Request::Pong)) => Ok(()),
            (Ok(()), Ok(Request::Leave { room })) => self.leave(socket, connection, room).await,
            (Ok(()), Ok(Request::Typing { room })) => self.typing(connection, &room),
            (Ok(()), Ok(Request::Read { room, seq })) => self.read(connection, &room, seq).await,
            (Ok(()), Ok(Request::OpenDm { user })) => self.open_dm(user).await,
            (Ok(()), Err(refusal)) => Err(refusal.into()),
        };
        self.report(socket, result).await
    }

    /// Tells this client why its frame was refused; only a broken socket ends the connection.
    async fn report<S>(
        &self,
        socket: &mut S,
        result: Result<(), Handling>,
    ) -> Result<(), axum::Error>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        match result {
            Ok(()) => Ok(()),
            Err(Handling::Socket(err)) => Err(err),
            Err(Handling::Refused(refusal)) => {
                tracing::debug!(connection = self.id, code = ?refusal.code, "refused a frame");
                send_json(socket, refusal.to_frame_json(), &self.core.metrics).await
            }
        }
    }

    fn rate_limited(&self, wait: Duration, request: Option<Request>) -> Refusal {
        self.core.metrics.rate_limited_frames.inc();
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
        let message = NewMessage::new(
            request.room,
            request.client_id,
            User::clone(&self.user),
            request.text,
        );
        let client_id = message.client_id.clone();
        // Never the body: logs at info and above must not leak what people write.
        tracing::debug!(connection = self.id, room = %message.room, id = %message.id, "submitted");
        let received = std::time::Instant::now();
        let pending = self.core.committer.submit_from(self.id, message).await;
        let metrics = self.core.metrics.clone();
        connection.acks.push_back(Box::pin(async move {
            let outcome = pending.outcome().await;
            metrics
                .ack_seconds
                .observe(received.elapsed().as_secs_f64());
            ack_or_error(client_id, outcome)
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
        let most = self.core.sockets.max_rooms_per_connection;
        if !connection.delivered.contains(&room) && connection.delivered.len() >= most {
            return Err(Refusal::new(
                ErrorCode::TooManyRooms,
                format!("this connection is in {most} rooms, its most; leave one first"),
            )
            .into());
        }
        let authorized = self
            .core
            .directory
            .authorize(&room, &self.user.id, &self.creator())
            .await;
        match authorized {
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
            Err(Denied::TooManyNewRooms { seconds }) => {
                return Err(Refusal::new(
                    ErrorCode::RateLimited,
                    format!("too many new rooms; try again in {seconds} s"),
                )
                .into())
            }
            Err(Denied::Store(err)) => return Err(store_refusal(err).into()),
        }
        let joined = match heads::join(&self.core, &room, &connection.subscriber, &self.user).await
        {
            Ok(joined) => joined,
            Err(JoinFailed::Store(err)) => return Err(store_refusal(err).into()),
            Err(JoinFailed::TooManyRooms(full)) => {
                return Err(
                    Refusal::new(ErrorCode::ServerBusy, format!("{full}; try again later")).into(),
                )
            }
        };
        self.catch_up(socket, connection, room, joined, since).await
    }

    /// Resumes the lobby, which the connection joined live at `lobby.head` as it opened, from
    /// the client's `/ws?since=`: before any live message of it is written, so the client
    /// gets every message after `since` once and in seq order, like a `join` in a room it was
    /// not in.
    pub(super) async fn resume_lobby<S>(
        &self,
        socket: &mut S,
        connection: &mut ConnectionState,
        lobby: Joined,
        since: u64,
    ) -> Result<(), axum::Error>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        let result = self
            .catch_up(socket, connection, LOBBY.to_owned(), lobby, Some(since))
            .await;
        self.report(socket, result).await
    }

    /// After the hub has added this connection to `room` at `joined.head`: sends what the
    /// client missed after `since` and this connection has not sent yet, then `joined` and
    /// `members`; from then on the room's live messages follow, with no gap at the seam.
    async fn catch_up<S>(
        &self,
        socket: &mut S,
        connection: &mut ConnectionState,
        room: String,
        joined: Joined,
        since: Option<u64>,
    ) -> Result<(), Handling>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        let Joined {
            id,
            room: shared_name,
            head,
            online,
        } = joined;
        let already_sent = connection.delivered.sent(&room);
        // Whatever happens next, hub deliveries after `head` are the ones still to send.
        connection
            .delivered
            .insert(id, shared_name.clone(), head, head);
        let since = since.unwrap_or(head);
        if since > head {
            return Err(Refusal::new(
                ErrorCode::SeqBeyondHead,
                format!("since {since} is beyond the last message of {room:?}, which is {head}"),
            )
            .into());
        }
        let replay = still_to_send(already_sent, since, head);
        if replay.count() > self.core.sockets.resume_limit {
            let resync = ServerFrame::Resync { room, head };
            return Ok(send_json(socket, resync.to_json(), &self.core.metrics).await?);
        }
        let mut missed = Vec::new();
        for (after, up_to) in &replay.ranges {
            let part = self
                .core
                .store
                .range(&room, *after, *up_to)
                .await
                .map_err(|err| {
                    Refusal::new(
                        ErrorCode::StoreUnavailable,
                        format!("cannot load history: {err}; join again"),
                    )
                })?;
            missed.extend(part);
        }
        for message in &missed {
            socket.feed(text_message(message.to_frame_json())).await?;
        }
        // The missed messages and `joined`; `members` counts itself.
        let metrics = &self.core.metrics;
        metrics.frames_sent.inc_by(missed.len() as u64 + 1);
        metrics.deliveries.inc_by(missed.len() as u64);
        connection
            .delivered
            .insert(id, shared_name, replay.sent_from, head);
        let joined = ServerFrame::Joined {
            room: room.clone(),
            head,
        };
        socket.feed(text_message(joined.to_json())).await?;
        let members = ServerFrame::Members { room, online };
        Ok(send_json(socket, members.to_json(), &self.core.metrics).await?)
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
        self.core
            .broker
            .leave(&mut std::iter::once(room.as_str()), self.id);
        if self.session.is_some() {
            self.core
                .directory
                .remove_from_list(&room, &self.user.id)
                .await
                .map_err(store_refusal)?;
        }
        Ok(send_json(
            socket,
            ServerFrame::Left { room }.to_json(),
            &self.core.metrics,
        )
        .await?)
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
        let head = heads::room_head(&self.core, &room)
            .await
            .map_err(store_refusal)?;
        for (to, with) in [(&self.user.id, &other), (&other.id, &*self.user)] {
            let added = ServerFrame::RoomAdded {
                room: RoomEntry {
                    name: room.clone(),
                    kind: RoomKind::Dm,
                    with: Some(with.clone()),
                    unread: 0,
                    mentions: 0,
                    head,
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

impl ConnectionTask {
    /// Whom the rooms this connection brings into being are counted against: the person,
    /// or for an anonymous guest (a new id per connection, so reconnecting would be a fresh
    /// budget) the client's address.
    fn creator(&self) -> String {
        match (&self.session, self.client) {
            (None, Some(address)) => format!("address {address}"),
            _ => self.user.id.clone(),
        }
    }
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
