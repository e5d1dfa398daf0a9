//! Benchmark peer: the smallest correct broadcast server on bare tokio-tungstenite.
//!
//! The WebSocket library Huddle runs under axum, with no framework, rooms, history or hub:
//! what Huddle costs on top of its own library. Every text frame goes verbatim to every open
//! client of the same room (the request path), the sender included; a client that falls more
//! than [`BROADCAST_CAPACITY`] messages behind is disconnected, never silently skipped.
//!
//! Usage: `peer-tungstenite PORT`

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Messages a client may fall behind by before it is dropped. The benchmark runs Huddle with
/// the same bound (`--queue-capacity 1024` in bench/run.py), so both give readers equal slack.
const BROADCAST_CAPACITY: usize = 1024;
/// Buffer sizes and message cap are Huddle's own (src/server/transport/socket_policy.rs), so the
/// comparison is about the architecture, not about tuning.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning on it.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Clients dropped for lagging, reported on exit.
static DROPPED_LAGGING: AtomicUsize = AtomicUsize::new(0);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: peer-tungstenite PORT"))?
        .parse()?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    tokio::select! {
        () = accept_forever(listener, Rooms::default()) => {}
        () = shutdown_signal() => {}
    }
    let dropped = DROPPED_LAGGING.load(Ordering::Relaxed);
    eprintln!("peer-tungstenite: dropped {dropped} lagging clients");
    Ok(())
}

/// One broadcast channel per room path, made by its first client. Text frames travel as
/// `Utf8Bytes`: every receiver clones a reference, not the payload.
#[derive(Clone, Default)]
struct Rooms(Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>);

impl Rooms {
    fn channel(&self, path: &str) -> broadcast::Sender<Utf8Bytes> {
        let mut rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        rooms
            .entry(path.to_owned())
            .or_insert_with(|| broadcast::channel(BROADCAST_CAPACITY).0)
            .clone()
    }
}

async fn accept_forever(listener: TcpListener, rooms: Rooms) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(relay(stream, rooms.clone()));
            }
            Err(error) => {
                eprintln!("peer-tungstenite: accept failed: {error}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// One client: publishes what it sends, forwards what everyone publishes.
async fn relay(stream: TcpStream, rooms: Rooms) {
    // Every other peer (ws, websockets) disables Nagle; so do we.
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WRITE_BUFFER_BYTES + 2 * MAX_MESSAGE_BYTES)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let mut path = String::new();
    // The callback's type is tungstenite's; its large error variant is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let note_path = |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    };
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, note_path, Some(config)).await
    else {
        return;
    };
    let publisher = rooms.channel(&path);
    // Subscribed before reading anything, so the client gets its own first message back.
    let mut deliveries = publisher.subscribe();
    let (mut sink, mut incoming) = socket.split();

    // Reading also answers pings: tungstenite queues the pong and writes it on the next read.
    let read = async {
        while let Some(Ok(message)) = incoming.next().await {
            if let Message::Text(text) = message {
                // Fails only without receivers, impossible while ours exists.
                let _ = publisher.send(text);
            }
        }
    };
    let write = async {
        loop {
            match deliveries.recv().await {
                Ok(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    // Coalesce a backlog into one write; flush once we have caught up.
                    if deliveries.is_empty() && sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    DROPPED_LAGGING.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(RecvError::Closed) => return,
            }
        }
    };
    // Whichever side ends first ends the connection; dropping both halves closes the socket.
    tokio::select! {
        () = read => {}
        () = write => {}
    }
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
