//! The listening socket, the TCP options every accepted connection gets, and the handle that
//! lets a connection the server gives up on be reset.

use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use axum::serve::Listener;
use socket2::SockRef;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Connections the kernel completes and holds for the server to accept. The default (128)
/// overflows in a connect storm, such as every client coming back after a restart: a client
/// whose handshake finds the queue full is dropped and retries its SYN a second later. The
/// kernel caps this at `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 4096;

/// Bytes a connection's kernel send queue may hold that the client has not yet been sent
/// (`TCP_NOTSENT_LOWAT`); past it, the socket stops taking writes.
///
/// Without it the kernel grows each send buffer up to `net.ipv4.tcp_wmem`'s maximum (4 MiB),
/// and a client that stops reading never makes a write wait: measured, a stalled client at
/// 200 messages/s had 2 MB queued in the kernel after 24 s, was never evicted as a slow
/// consumer, and was only closed by its heartbeat 35 s in. With the limit, its writes wait
/// once this much is queued, its mailbox fills, and the hub evicts it within seconds; the
/// kernel then holds at most about this much for it. Data already sent and awaiting its ACK
/// is not counted, so a reading client on a long, fast path keeps its full window.
pub const UNSENT_BYTES_LIMIT: u32 = 128 * 1024;

/// Binds the server's listening socket, with room for a connect storm (see
/// [`LISTEN_BACKLOG`]).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted server can bind while its old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The server's listener: it sets up every connection it accepts.
///
/// - Nagle's algorithm off, as every peer server does. Chat frames are small, and with Nagle
///   on, a frame written while an earlier one is still unacknowledged waits for that ACK,
///   which the client may delay by 40 ms. axum does not do this by itself. (Measured: fan-out
///   to 1,000 at 400 msg/s, delivery p50 25 ms with Nagle; see docs/performance.md.)
/// - The unsent backlog bounded (see [`UNSENT_BYTES_LIMIT`]).
///
pub struct TunedListener(TcpListener);

impl TunedListener {
    pub fn new(listener: TcpListener) -> Self {
        TunedListener(listener)
    }
}

impl Listener for TunedListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        // axum's accept retries on errors (such as running out of descriptors) by itself.
        let (stream, addr) = Listener::accept(&mut self.0).await;
        // Still served either way: a missing option costs latency or kernel memory, not
        // correctness.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot turn Nagle's algorithm off on a connection");
        }
        if let Err(err) = SockRef::from(&stream).set_tcp_notsent_lowat(UNSENT_BYTES_LIMIT) {
            tracing::debug!(%err, "cannot bound a connection's unsent bytes");
        }
        (stream, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The OS socket under an accepted connection, handed to its requests as axum's
/// `ConnectInfo` (see [`crate::server::transport::http_server`]): who is at its other end, for per-address
/// limits, and the descriptor, so that the WebSocket upgraded from it can be reset when the
/// server abandons it.
#[derive(Clone, Copy, Debug)]
pub struct AcceptedSocket {
    fd: RawFd,
    peer: SocketAddr,
}

impl AcceptedSocket {
    /// The socket of a connection just accepted from `peer`.
    pub fn new(fd: RawFd, peer: SocketAddr) -> Self {
        AcceptedSocket { fd, peer }
    }

    /// The address the connection came from: the client's, or its proxy's.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Makes closing this socket send a reset (RST) and free its buffers at once, instead of
    /// the kernel keeping it, with whatever the client never read, while it tries to deliver
    /// that and a FIN. That is for a client that stopped taking data: nginx's
    /// `reset_timedout_connection` does the same. The client learns of the end as soon as it
    /// reads again, rather than when the kernel's retries, further and further apart, reach it.
    ///
    /// # Safety
    ///
    /// The connection this socket was accepted for must still be open: call this only while
    /// holding the WebSocket upgraded from it, so that the descriptor cannot have been closed
    /// and reused.
    pub unsafe fn reset_on_close(&self) -> std::io::Result<()> {
        // SAFETY: the caller holds the connection, which owns the descriptor.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        SockRef::from(&fd).set_linger(Some(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_storm_is_queued_for_accepting_not_dropped() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // Far more than the default backlog of 128, none accepted yet: each handshake must
        // still complete at once instead of waiting out a SYN retry (one second).
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..600 {
            clients.spawn(tokio::time::timeout(
                std::time::Duration::from_millis(500),
                TcpStream::connect(addr),
            ));
        }
        let mut held = Vec::new();
        while let Some(connected) = clients.join_next().await {
            let connected = connected.unwrap();
            held.push(
                connected
                    .expect("a handshake waited for a SYN retry")
                    .unwrap(),
            );
        }
        assert_eq!(held.len(), 600);
        drop(listener);
    }

    #[tokio::test]
    async fn accepted_connections_have_nagle_off_and_a_bounded_unsent_backlog() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = TunedListener::new(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
        assert_eq!(
            SockRef::from(&accepted).tcp_notsent_lowat().unwrap(),
            UNSENT_BYTES_LIMIT
        );
    }

    /// What the option is for: writes to a client that reads nothing stop being taken once
    /// the limit is queued, instead of after megabytes of kernel buffer.
    #[tokio::test]
    async fn writes_to_a_client_that_stops_reading_stop_near_the_limit() {
        use tokio::io::AsyncWriteExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = TunedListener::new(listener);
        // A small receive window, as a client on a stalled link has; never read.
        let client = TcpSocket::new_v4().unwrap();
        client.set_recv_buffer_size(4096).unwrap();
        let _client = client.connect(addr).await.unwrap();
        let (mut accepted, _) = listener.accept().await;
        let chunk = vec![b'x'; 16 * 1024];
        let mut taken = 0usize;
        loop {
            // A write the kernel does not take at once is where the backlog stops growing.
            match tokio::time::timeout(
                std::time::Duration::from_millis(200),
                accepted.write(&chunk),
            )
            .await
            {
                Ok(Ok(n)) => taken += n,
                Ok(Err(err)) => panic!("write failed: {err}"),
                Err(_) => break,
            }
            assert!(
                taken < 1024 * 1024,
                "the kernel took {taken} bytes for a client reading nothing"
            );
        }
        let limit = UNSENT_BYTES_LIMIT as usize;
        assert!(
            taken >= limit / 2 && taken <= limit + 256 * 1024,
            "writes stopped after {taken} bytes; expected near {limit} plus the client's window"
        );
    }
}
