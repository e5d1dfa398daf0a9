//! Benchmark peer: the machine's ceiling for "one `write()` per socket per delivery".
//!
//! It speaks just enough WebSocket for a normal client: the upgrade handshake, masked client
//! frames up to 65,535 bytes, unfragmented. Each text frame received is encoded once, then
//! written to every client with exactly one non-blocking `write` syscall. A client that cannot
//! take the frame whole at once (short write or `WouldBlock`) cannot keep up: it is dropped
//! and counted. No queues, no tasks per delivery: nothing a real server could do is cheaper.
//!
//! One file descriptor per client: the writer and the reader share the socket through an
//! `Arc` rather than a `try_clone`d duplicate, so 19,000 clients fit under this machine's
//! 20,000 descriptor limit.
//!
//! Usage: `peer-rawtcp PORT`

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::TcpListener;

mod wire;
use wire::*;

/// An upgrade request larger than this is refused; browsers send well under 2 KiB.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Bytes read per syscall, Huddle's own read buffer size (src/server/transport/socket_policy.rs).
const READ_CHUNK_BYTES: usize = 4 * 1024;
/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning on it.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: peer-rawtcp PORT"))?
        .parse()?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    let registry = Arc::new(Registry::default());
    tokio::select! {
        () = accept_forever(listener, Arc::clone(&registry)) => {}
        () = shutdown_signal() => {}
    }
    let dropped = registry.dropped_slow.load(Ordering::Relaxed);
    eprintln!("peer-rawtcp: dropped {dropped} clients that could not keep up");
    Ok(())
}

async fn accept_forever(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let accepted = listener.accept().await;
        match accepted.and_then(|(stream, _)| stream.into_std()) {
            Ok(stream) => {
                // A client that breaks the protocol or hangs up only ends its own connection.
                tokio::spawn(serve_client(stream, Arc::clone(&registry)));
            }
            Err(error) => {
                eprintln!("peer-rawtcp: accept failed: {error}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// A room's clients in the order they came, so every broadcast writes them in the same order.
/// In a random order, each of the load generator's processes sharing these cores would be
/// woken for nearly every write instead of once for a run of its sockets
/// (docs/performance.md).
type Room = BTreeMap<u64, Arc<TcpStream>>;

/// Every client past its handshake, by room (the request path), and the count of those
/// dropped for being slow.
#[derive(Default)]
struct Registry {
    /// Held for a whole broadcast: writes to one socket never interleave, so a pong can't
    /// land inside a broadcast frame.
    rooms: Mutex<HashMap<String, Room>>,
    next_id: AtomicU64,
    dropped_slow: AtomicUsize,
}

impl Registry {
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        // Nothing panics while holding the lock, and the map stays valid if something did.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, room: &str, stream: Arc<TcpStream>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.rooms()
            .entry(room.to_owned())
            .or_default()
            .insert(id, stream);
        id
    }

    fn remove(&self, room: &str, id: u64) {
        let mut rooms = self.rooms();
        let Some(clients) = rooms.get_mut(room) else {
            return;
        };
        if let Some(stream) = clients.remove(&id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if clients.is_empty() {
            rooms.remove(room);
        }
    }

    /// One write of `frame` to every client of `room`; those that can't take it whole are
    /// dropped.
    fn broadcast(&self, room: &str, frame: &[u8]) {
        if let Some(clients) = self.rooms().get_mut(room) {
            clients.retain(|_, stream| self.write_or_drop(stream, frame));
        }
    }

    /// One write of `frame` to client `id`. False if the client is gone or now dropped.
    fn send_to(&self, room: &str, id: u64, frame: &[u8]) -> bool {
        let mut rooms = self.rooms();
        let Some(clients) = rooms.get_mut(room) else {
            return false;
        };
        let Some(stream) = clients.get(&id) else {
            return false;
        };
        let kept = self.write_or_drop(stream, frame);
        if !kept {
            clients.remove(&id);
        }
        kept
    }

    /// Exactly one non-blocking `write`. Shuts the socket down unless all of `frame` went out;
    /// the client's reader then sees the end of its stream and finishes.
    fn write_or_drop(&self, stream: &TcpStream, frame: &[u8]) -> bool {
        match (&*stream).write(frame) {
            Ok(written) if written == frame.len() => return true,
            Ok(_) => self.count_slow(),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.count_slow(),
            Err(_) => {} // the client hung up: not a matter of speed
        }
        let _ = stream.shutdown(Shutdown::Both);
        false
    }

    fn count_slow(&self) {
        self.dropped_slow.fetch_add(1, Ordering::Relaxed);
    }
}

async fn serve_client(stream: TcpStream, registry: Arc<Registry>) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?; // as every other peer does
    let stream = Arc::new(stream);
    // SAFETY: the AsyncFd owns a clone of the `Arc`, so the descriptor it registers stays open
    // and unchanged for as long as the AsyncFd lives.
    let readable =
        unsafe { AsyncFd::register_with_interest(Arc::clone(&stream), Interest::READABLE) }?;
    let mut received = Vec::with_capacity(READ_CHUNK_BYTES);

    let upgrade = loop {
        if let Some(upgrade) = parse_upgrade_request(&received)? {
            received.drain(..upgrade.len);
            break upgrade;
        }
        if received.len() > MAX_REQUEST_BYTES || read_more(&readable, &mut received).await? == 0 {
            return Ok(());
        }
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&upgrade.key)
    );
    // A fresh socket's send buffer takes ~130 bytes whole; anything else is a failure.
    if (&*stream).write(response.as_bytes())? != response.len() {
        return Ok(());
    }

    let room = upgrade.path;
    let id = registry.add(&room, stream);
    let result = relay_frames(&readable, &mut received, &registry, &room, id).await;
    registry.remove(&room, id);
    result
}

/// Handles the client's frames until it closes, breaks the protocol, hangs up or is dropped.
async fn relay_frames(
    readable: &AsyncFd<Arc<TcpStream>>,
    received: &mut Vec<u8>,
    registry: &Registry,
    room: &str,
    id: u64,
) -> io::Result<()> {
    loop {
        while let Some(frame) = parse_client_frame(received)? {
            received.drain(..frame.len);
            match frame.opcode {
                OPCODE_TEXT => {
                    std::str::from_utf8(&frame.payload).map_err(invalid)?;
                    registry.broadcast(room, &server_frame(OPCODE_TEXT, &frame.payload));
                }
                OPCODE_PING => {
                    let pong = server_frame(OPCODE_PONG, &frame.payload);
                    if !registry.send_to(room, id, &pong) {
                        return Ok(());
                    }
                }
                OPCODE_CLOSE => {
                    registry.send_to(room, id, &server_frame(OPCODE_CLOSE, &[]));
                    return Ok(());
                }
                _ => {} // binary frames and unsolicited pongs are ignored
            }
        }
        if read_more(readable, received).await? == 0 {
            return Ok(());
        }
    }
}

/// Appends what one `read` returns to `received`; 0 means the client hung up.
async fn read_more(
    readable: &AsyncFd<Arc<TcpStream>>,
    received: &mut Vec<u8>,
) -> io::Result<usize> {
    loop {
        let mut guard = readable.readable().await?;
        let mut chunk = [0; READ_CHUNK_BYTES];
        if let Ok(result) = guard.try_io(|socket| (&**socket.get_ref()).read(&mut chunk)) {
            let read = result?;
            received.extend_from_slice(&chunk[..read]);
            return Ok(read);
        }
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
