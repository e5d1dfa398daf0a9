//! Running the server until a shutdown signal, then draining it within a bound.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::serve::{ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};
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
    async fn accepted_connections_have_nagle_turned_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
