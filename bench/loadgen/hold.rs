//! `hold`: open connections, exchange a frame on each, then keep them open (answering the
//! server's pings) until told to stop. Measures handshakes for the connect-rate scenario and
//! gives the orchestrator a steady population for the idle-memory one.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::adapter::Protocol;
use crate::control::emit;
use crate::latency;
use crate::open_many::{open_many, Plan};
use crate::rooms::Rooms;

pub async fn hold(
    url: &str,
    server: SocketAddr,
    sources: &[IpAddr],
    count: usize,
    in_flight: usize,
    stop: CancellationToken,
) {
    let opened = open_many(Plan {
        url,
        server,
        sources,
        count,
        in_flight,
        // Held connections only answer pings: the protocol and rooms do not matter.
        protocol: Protocol::Plain,
        rooms: Rooms::default(),
        small_window_every: 0,
    })
    .await;
    let held = opened.sockets.len();
    emit(json!({
        "event": "ready",
        "opened": held,
        "failed": opened.failed,
        "first_error": opened.first_error,
    }));

    // A connection the server ends while it should be held is a finding, not noise.
    let ended_early = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (_, connection) in opened.sockets {
        let stop = stop.clone();
        let ended_early = ended_early.clone();
        let mut socket = connection.socket;
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    frame = socket.next() => match frame {
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => {
                            ended_early.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    },
                }
            }
            let _ = socket.close(None).await;
        });
    }
    stop.cancelled().await;
    while tasks.join_next().await.is_some() {}

    let secs = opened.elapsed.as_secs_f64();
    emit(json!({
        "event": "report",
        "role": "hold",
        "opened": held,
        "failed": opened.failed,
        "connect_secs": secs,
        "handshakes_per_sec": if secs > 0.0 { held as f64 / secs } else { 0.0 },
        "handshake": latency::to_json(&opened.handshakes),
        "ended_early": ended_early.load(Ordering::Relaxed),
    }));
}
