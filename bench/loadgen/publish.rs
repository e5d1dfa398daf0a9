//! `publish`: open-loop publishers. Message n of a step is due at step start + n / rate and
//! carries that due time; a publisher that falls behind sends late but does not move the
//! schedule, so server stalls show up as latency instead of as a lower offered load.
//!
//! Against Huddle each message is a real `send` with a client_id; its ack (sent after the
//! commit) is timed too, and a message never acked is counted.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::adapter::Protocol;
use crate::control::emit;
use crate::latency;
use crate::open_many::{open_many, Plan};
use crate::payload::{now_us, Stamp};
use crate::rooms::Rooms;

/// How long a publisher waits for its last acks after the final message.
const ACK_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub rate_per_sec: f64,
    pub secs: f64,
}

pub struct Publisher<'a> {
    pub url: &'a str,
    pub server: SocketAddr,
    pub protocol: Protocol,
    pub id: u32,
    /// Steps are numbered from this, so that several publish runs against the same
    /// subscribers stay apart.
    pub first_step: u32,
    pub steps: &'a [Step],
    pub message_bytes: usize,
    pub sources: &'a [IpAddr],
    /// Rooms published to, round robin, one connection each; 0: the default room.
    pub rooms: usize,
}

pub async fn publish(spec: Publisher<'_>, stop: CancellationToken) -> anyhow::Result<()> {
    // Message n goes out on connection n % links, in that connection's room.
    let rooms = Rooms {
        count: spec.rooms,
        offset: 0,
    };
    let links = spec.rooms.max(1);
    let opened = open_many(Plan {
        url: spec.url,
        server: spec.server,
        sources: spec.sources,
        count: links,
        in_flight: 64,
        protocol: spec.protocol,
        rooms,
        small_window_every: 0,
    })
    .await;
    if let Some(err) = opened.first_error {
        anyhow::bail!(
            "{} of {links} publishing connections failed: {err}",
            opened.failed
        );
    }
    let (mut sinks, streams): (Vec<_>, Vec<_>) = opened
        .sockets
        .into_iter()
        .map(|(_, opened)| opened.socket.split())
        .unzip();
    let room_of: Vec<Option<String>> = (0..links).map(|i| rooms.of(i)).collect();
    emit(json!({ "event": "ready", "opened": links }));

    // Payloads sent and not yet acked; the reader removes them and times the ack.
    let unacked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let acks = Arc::new(Mutex::new(latency::histogram()));
    let all_acked = Arc::new(tokio::sync::Notify::new());
    let mut readers = tokio::task::JoinSet::new();
    for mut stream in streams {
        let (unacked, acks, all_acked) = (unacked.clone(), acks.clone(), all_acked.clone());
        let protocol = spec.protocol;
        // Reads everything, not only acks: a publisher is a member of its room too, and one
        // that left its own deliveries unread would be evicted as a slow consumer.
        readers.spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else { continue };
                let Some(payload) = protocol.acked_payload(&text) else {
                    continue;
                };
                let mut waiting = unacked.lock().unwrap();
                if waiting.remove(payload) {
                    if let Some(stamp) = Stamp::decode(payload) {
                        let taken = now_us().saturating_sub(stamp.intended_us);
                        latency::record(&mut acks.lock().unwrap(), taken);
                    }
                    if waiting.is_empty() {
                        all_acked.notify_one();
                    }
                }
            }
        });
    }

    let mut sent_per_step = Vec::new();
    let mut late_sends = 0u64;
    // A server may drop the publisher itself (a broadcast peer drops any client that falls
    // behind, the sender included): that ends the ramp, and the report says so.
    let mut dropped = None;
    'steps: for (offset, step) in spec.steps.iter().enumerate() {
        let step_number = spec.first_step + offset as u32;
        let total = (step.rate_per_sec * step.secs).round() as u64;
        let interval = Duration::from_secs_f64(1.0 / step.rate_per_sec);
        let (start, start_us) = (Instant::now(), now_us());
        let mut sent = 0;
        for number in 0..total {
            if stop.is_cancelled() {
                sent_per_step.push(sent);
                break 'steps;
            }
            let due = interval.mul_f64(number as f64);
            let due_at = start + due;
            if Instant::now() < due_at {
                tokio::select! {
                    _ = stop.cancelled() => {
                        sent_per_step.push(sent);
                        break 'steps;
                    }
                    _ = tokio::time::sleep_until(due_at.into()) => {}
                }
            } else if Instant::now() - due_at > Duration::from_millis(1) {
                late_sends += 1;
            }
            let stamp = Stamp {
                publisher: spec.id,
                step: step_number,
                number,
                intended_us: start_us + due.as_micros() as u64,
            };
            let payload = stamp.encode(spec.message_bytes);
            let client_id = stamp.encode(0);
            if spec.protocol == Protocol::Huddle {
                unacked.lock().unwrap().insert(client_id.clone());
            }
            let link = (number as usize) % links;
            let frame = spec
                .protocol
                .publish_frame(room_of[link].as_deref(), &client_id, &payload);
            let sink = &mut sinks[link];
            // A server that stops reading must not hold the worker past its deadline.
            let sending = tokio::select! {
                _ = stop.cancelled() => {
                    sent_per_step.push(sent);
                    break 'steps;
                }
                sending = sink.send(Message::Text(frame.into())) => sending,
            };
            if let Err(err) = sending {
                dropped = Some(format!(
                    "the server dropped the publisher after {sent} messages of step {step_number}: {err}"
                ));
                sent_per_step.push(sent);
                break 'steps;
            }
            sent += 1;
        }
        sent_per_step.push(sent);
    }

    // A notification may be left over from a moment mid-run when everything was acked, so
    // the set itself decides.
    let grace_ends = tokio::time::Instant::now() + ACK_GRACE;
    while !unacked.lock().unwrap().is_empty() {
        if tokio::time::timeout_at(grace_ends, all_acked.notified())
            .await
            .is_err()
        {
            break;
        }
    }
    let unacked = unacked.lock().unwrap().len();
    for sink in &mut sinks {
        let _ = sink.close().await;
    }
    readers.abort_all();
    emit(json!({
        "event": "report",
        "role": "publish",
        "publisher": spec.id,
        "first_step": spec.first_step,
        "sent_per_step": sent_per_step,
        "late_sends": late_sends,
        "acks": latency::to_json(&acks.lock().unwrap()),
        "unacked": unacked,
        "dropped": dropped,
    }));
    Ok(())
}
