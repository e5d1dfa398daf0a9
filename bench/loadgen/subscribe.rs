//! `subscribe`: receivers. Every delivery is checked against its stamp: latency from the
//! intended send time, duplicates (a number not above the last one seen from that publisher
//! and step on that connection — one publisher's messages arrive in order), and per message
//! how many receivers got it and when the last one did (fan-out completion).
//!
//! A fraction of connections can be "stalled": they never read after the first frame, as a
//! client on a dead network would, to see what that does to everyone else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::control::emit;
use crate::latency;
use crate::open_many::{open_many, Plan};
use crate::payload::{now_us, Stamp};

/// Deliveries a connection notes locally before adding them to the shared tally, so the lock
/// is taken once per this many messages rather than once per message.
const FLUSH_EVERY: usize = 128;

/// How long a stalled connection, once stopped, reads on to see whether the server closed it.
const STALLED_CLOSE_CHECK: Duration = Duration::from_millis(500);

/// How often progress is reported while deliveries arrive.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
struct PerMessage {
    receivers: u64,
    last_latency_us: u64,
}

struct PerStep {
    latency: Histogram<u64>,
    first_intended_us: u64,
    last_arrival_us: u64,
}

#[derive(Default)]
struct Tally {
    deliveries: u64,
    /// Bytes of the delivered frames (text, without WebSocket headers): how much a server
    /// sends per message, envelope included.
    frame_bytes: u64,
    duplicates: u64,
    // Looked up once per delivery: FxHash, not SipHash, whose cost per lookup would come out
    // of the cores the server under test shares with this process.
    steps: FxHashMap<u32, PerStep>,
    messages: FxHashMap<(u32, u32, u64), PerMessage>,
    /// Close codes (0: no close frame) of connections the server ended.
    closed_by_server: HashMap<u16, u64>,
}

struct Seen {
    stamp: Stamp,
    arrival_us: u64,
}

impl Tally {
    fn add(&mut self, seen: &[Seen]) {
        for Seen { stamp, arrival_us } in seen {
            let latency_us = arrival_us.saturating_sub(stamp.intended_us);
            self.deliveries += 1;
            let step = self.steps.entry(stamp.step).or_insert_with(|| PerStep {
                latency: latency::histogram(),
                first_intended_us: u64::MAX,
                last_arrival_us: 0,
            });
            latency::record(&mut step.latency, latency_us);
            step.first_intended_us = step.first_intended_us.min(stamp.intended_us);
            step.last_arrival_us = step.last_arrival_us.max(*arrival_us);
            let message = self
                .messages
                .entry((stamp.publisher, stamp.step, stamp.number))
                .or_default();
            message.receivers += 1;
            message.last_latency_us = message.last_latency_us.max(latency_us);
        }
    }
}

pub struct Subscribers<'a> {
    pub connections: Plan<'a>,
    /// Every n-th connection stalls (0: none).
    pub stall_every: usize,
}

pub async fn subscribe(spec: Subscribers<'_>, stop: CancellationToken) {
    let protocol = spec.connections.protocol;
    let opened = open_many(Plan {
        // A client that stops reading is one whose network went bad: a nearly shut window.
        small_window_every: spec.stall_every,
        ..spec.connections
    })
    .await;
    let stalled = if spec.stall_every == 0 {
        0
    } else {
        opened
            .sockets
            .iter()
            .filter(|(i, _)| i % spec.stall_every == 0)
            .count()
    };
    emit(json!({
        "event": "ready",
        "opened": opened.sockets.len(),
        "stalled": stalled,
        "failed": opened.failed,
        "first_error": opened.first_error,
    }));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, connection) in opened.sockets {
        let stop = stop.clone();
        let tally = tally.clone();
        let stalls = spec.stall_every != 0 && index % spec.stall_every == 0;
        let mut socket = connection.socket;
        tasks.spawn(async move {
            if stalls {
                // Hold the socket without reading: the server sees a client that stopped.
                stop.cancelled().await;
                // Then find out whether the server closed it meanwhile: skip the backlog to
                // the close frame (or the end) if one comes within a moment.
                let ended = tokio::time::timeout(STALLED_CLOSE_CHECK, async {
                    loop {
                        match socket.next().await {
                            Some(Ok(Message::Close(frame))) => {
                                return frame.map(|f| u16::from(f.code)).unwrap_or(0);
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return 0,
                        }
                    }
                })
                .await;
                if let Ok(code) = ended {
                    *tally
                        .lock()
                        .unwrap()
                        .closed_by_server
                        .entry(code)
                        .or_default() += 1;
                }
                return;
            }
            let mut last: FxHashMap<(u32, u32), u64> = FxHashMap::default();
            let mut seen = Vec::with_capacity(FLUSH_EVERY);
            let mut duplicates = 0;
            let mut frame_bytes = 0;
            let mut close_code = None;
            // Made once and kept: a new one per wait would join and leave the token's list
            // of waiters for every frame read.
            let cancelled = stop.cancelled();
            tokio::pin!(cancelled);
            loop {
                // Take what is already buffered without waiting; only when the socket has
                // nothing ready are the noted deliveries added to the tally, so a busy
                // connection takes the lock once per burst and a quiet one at once.
                let frame = match socket.next().now_or_never() {
                    Some(frame) => frame,
                    None => {
                        if !seen.is_empty() {
                            tally.lock().unwrap().add(&seen);
                            seen.clear();
                        }
                        tokio::select! {
                            _ = &mut cancelled => break,
                            frame = socket.next() => frame,
                        }
                    }
                };
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let Some(stamp) = protocol.delivered_payload(&text).and_then(Stamp::decode)
                        else {
                            continue;
                        };
                        // One publisher's messages arrive in order on one connection, so a
                        // number below the next one expected is a repeat.
                        let next = last.entry((stamp.publisher, stamp.step)).or_insert(0);
                        if stamp.number < *next {
                            duplicates += 1;
                            continue;
                        }
                        *next = stamp.number + 1;
                        frame_bytes += text.len() as u64;
                        seen.push(Seen {
                            stamp,
                            arrival_us: now_us(),
                        });
                        if seen.len() == FLUSH_EVERY {
                            tally.lock().unwrap().add(&seen);
                            seen.clear();
                            // Checked here and while waiting, not per frame (the check takes a
                            // lock): a server that never pauses still lets the reader stop.
                            if stop.is_cancelled() {
                                break;
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        close_code = Some(frame.map(|f| u16::from(f.code)).unwrap_or(0));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        close_code = Some(0);
                        break;
                    }
                }
            }
            let mut tally = tally.lock().unwrap();
            tally.add(&seen);
            tally.duplicates += duplicates;
            tally.frame_bytes += frame_bytes;
            if let Some(code) = close_code {
                *tally.closed_by_server.entry(code).or_default() += 1;
            }
        });
    }

    // Progress lines let the orchestrator wait until deliveries stop arriving instead of
    // guessing how long a backlog takes to drain.
    let mut reported = 0;
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {
                let deliveries = tally.lock().unwrap().deliveries;
                if deliveries != reported {
                    reported = deliveries;
                    emit(json!({ "event": "progress", "deliveries": deliveries }));
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    report(&tally.lock().unwrap(), stalled);
}

fn report(tally: &Tally, stalled: usize) {
    let mut steps: Vec<_> = tally.steps.iter().collect();
    steps.sort_by_key(|(step, _)| **step);
    let steps: Vec<_> = steps
        .into_iter()
        .map(|(step, s)| {
            json!({
                "step": step,
                "latency": latency::to_json(&s.latency),
                "first_intended_us": s.first_intended_us,
                "last_arrival_us": s.last_arrival_us,
            })
        })
        .collect();
    // [publisher, step, number, receivers, last latency]: the orchestrator merges these
    // across workers for completion times and per-message losses.
    let messages: Vec<[u64; 5]> = tally
        .messages
        .iter()
        .map(|((p, s, n), m)| [*p as u64, *s as u64, *n, m.receivers, m.last_latency_us])
        .collect();
    emit(json!({
        "event": "report",
        "role": "subscribe",
        "stalled": stalled,
        "deliveries": tally.deliveries,
        "frame_bytes": tally.frame_bytes,
        "duplicates": tally.duplicates,
        "closed_by_server": tally.closed_by_server,
        "steps": steps,
        "messages": messages,
    }));
}
