//! Running the server until a shutdown signal, then draining it within a bound.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::{ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

use crate::server::mailbox::Stop;
use crate::server::router::router;
use crate::server::state::AppState;

/// Part of the grace period kept for HTTP requests in flight after the sockets are done.
const HTTP_DRAIN_RESERVE: Duration = Duration::from_secs(2);

/// Serves `state` on `listener` until `signal` resolves, then drains:
///
/// 1. new upgrades are refused with 503 and Retry-After (HTTP keeps being served, so clients
///    get that answer rather than a refused connection);
/// 2. every socket sends the acks it still owes, then closes with 1012 and a retry delay;
/// 3. once the sockets are closed, HTTP shuts down gracefully.
///
/// Returns when all that is done or the configured grace period has passed since the signal.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let connections = state.connections.clone();
    let grace = state.config.shutdown_grace();
    let (stop_http, http_stopped) = oneshot::channel::<()>();
    let http = axum::serve(without_nagle(listener), router(state))
        .with_graceful_shutdown(async move {
            let _ = http_stopped.await;
        })
        .into_future();
    let drain = async {
        signal.await;
        tracing::info!("shutting down: draining sockets");
        shutdown.begin();
        connections.stop_all(Stop::ShuttingDown);
        let sockets_by = grace.saturating_sub(HTTP_DRAIN_RESERVE);
        if tokio::time::timeout(sockets_by, shutdown.sockets_closed())
            .await
            .is_err()
        {
            tracing::warn!(?sockets_by, "some sockets did not close in time");
        }
        let _ = stop_http.send(());
        // From here on, the whole shutdown is bounded by the grace period.
        tokio::time::sleep(HTTP_DRAIN_RESERVE).await;
    };
    tokio::pin!(http);
    tokio::pin!(drain);
    tokio::select! {
        // A listener error, or HTTP done after the sockets.
        result = &mut http => result,
        _ = &mut drain => {
            tracing::warn!(?grace, "connections still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}

/// Connections the kernel completes and holds for the server to accept. The default (128)
/// overflows in a connect storm, such as every client coming back after a restart: a client
/// whose handshake finds the queue full is dropped and retries its SYN a second later. The
/// kernel caps this at `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 4096;

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

/// Turns Nagle's algorithm off on every accepted connection, as every peer server does:
/// chat frames are small, and with Nagle on, a frame written while an earlier one is still
/// unacknowledged waits for that ACK, which the client may delay by 40 ms. axum does not do
/// this by itself. (Measured: fan-out to 1,000 at 400 msg/s, delivery p50 25 ms with Nagle,
/// see docs/benchmarks.md for without.)
pub fn without_nagle(
    listener: TcpListener,
) -> TapIo<TcpListener, impl FnMut(&mut TcpStream) + Send + 'static> {
    listener.tap_io(|stream: &mut TcpStream| {
        if let Err(err) = stream.set_nodelay(true) {
            // Still served: a missing socket option costs latency, not correctness.
            tracing::debug!(%err, "cannot turn Nagle's algorithm off on a connection");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;

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
    async fn accepted_connections_have_nagle_turned_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
