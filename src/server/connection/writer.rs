//! How a connection's task writes: the hub's deliveries (shared bytes, skipping what was
//! already sent while catching up), the acks that are ready, pings, single JSON frames.

use std::collections::VecDeque;

use futures_util::{FutureExt, Sink, SinkExt};
use tungstenite::{Message, Utf8Bytes};

use crate::protocol::ErrorCode;
use crate::protocol::ServerFrame;
use crate::server::clock::unix_millis;
use crate::server::connection::pending_acks::PendingAcks;
use crate::server::connection::room_cursors::RoomCursors;
use crate::server::history::committer::CommitError;
use crate::server::hub::mailbox::{Delivery, TO_CONNECTION, UNSEQUENCED};
use crate::server::metrics::Metrics;
use crate::server::store::Appended;
use crate::server::transport::chat_socket::ChatSocket;

/// A WebSocket Ping (browsers and libraries answer it by themselves) and a `ping` frame (the
/// page answers it, and measures round-trip time with its own).
pub(super) async fn ping<S>(socket: &mut S, metrics: &Metrics) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    metrics.frames_sent.inc();
    socket.feed(Message::Ping(Default::default())).await?;
    let frame = ServerFrame::Ping { t: unix_millis() };
    socket.feed(text_message(frame.to_json())).await?;
    socket.flush().await
}

pub(super) fn ack_or_error(client_id: String, outcome: Result<Appended, CommitError>) -> String {
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

pub(super) async fn send_json<S>(
    socket: &mut S,
    json: String,
    metrics: &Metrics,
) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    metrics.frames_sent.inc();
    socket.send(text_message(json)).await
}

/// Writes `first` and every other answer already ready, then flushes once.
pub(super) async fn write_acks<S>(
    socket: &mut S,
    first: String,
    acks: &mut PendingAcks,
    metrics: &Metrics,
) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    socket.feed(text_message(first)).await?;
    let fed = feed_ready_acks(socket, acks).await?;
    metrics.frames_sent.inc_by(1 + fed);
    socket.flush().await
}

/// Feeds the answers to this connection's sends that are already ready, oldest first, without
/// waiting for any: they go out with whatever else this flush writes. A sender's own copy of
/// its message and the ack for it (committed and published together) then cost one send,
/// not one each. Returns how many it fed.
pub(super) async fn feed_ready_acks<S>(
    socket: &mut S,
    acks: &mut PendingAcks,
) -> Result<u64, axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut fed = 0;
    // Polling without the task's waker is safe: the chat loop polls the pending answers
    // again, with it, before it waits.
    while let Some(Some(answer)) = acks.next_answer().now_or_never() {
        socket.feed(text_message(answer)).await?;
        fed += 1;
    }
    Ok(fed)
}

/// Writes queued hub deliveries (their shared bytes, gathered per write), skipping any already
/// sent while catching up, then the acks already ready.
pub(super) async fn write_batch<S: ChatSocket>(
    socket: &mut S,
    batch: &mut VecDeque<Delivery>,
    delivered: &mut RoomCursors,
    acks: &mut PendingAcks,
    metrics: &Metrics,
) -> Result<(), axum::Error> {
    // Room frames were counted by the hub as it queued them (once per batch, not once per
    // member); what is counted here is the rest: frames for this connection alone, and acks.
    let mut direct = 0;
    for delivery in batch.iter_mut() {
        delivery.unsent = unsent_from(delivery, delivered);
        if delivery.room == TO_CONNECTION {
            direct += delivery.frames.len() as u64;
        }
    }
    socket.write_encoded(batch).await?;
    batch.clear();
    direct += feed_ready_acks(socket, acks).await?;
    if direct > 0 {
        metrics.frames_sent.inc_by(direct);
    }
    socket.flush().await
}

/// Where `delivery`'s frames still to write begin, moving this connection's cursor for its
/// room past them. Frames for the connection itself (a notice, a new room) are all written,
/// frames for a room it has left since they were queued none; a stored message already sent
/// while catching up is skipped. Presence and typing are not stored, so there is nothing to
/// skip while catching up: they are always written.
pub(super) fn unsent_from(delivery: &Delivery, delivered: &mut RoomCursors) -> usize {
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

pub(super) fn text_message(json: String) -> Message {
    Message::Text(Utf8Bytes::from(json))
}
