//! Running the server until a shutdown signal, then draining it within a bound.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::server::http::router::router;
use crate::server::hub::mailbox::Stop;
use crate::server::state::AppState;
use crate::server::transport::http_server::serve_http;
use crate::server::transport::listener::TunedListener;

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
    let connections = state.registry.clone();
    let grace = state.config.shutdown_grace();
    let (stop_http, http_stopped) = oneshot::channel::<()>();
    let header_read_timeout = state.config.header_read_timeout();
    let http = serve_http(
        TunedListener::new(listener),
        router(state),
        header_read_timeout,
        async move {
            let _ = http_stopped.await;
        },
    );
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
        // HTTP done after the sockets.
        () = &mut http => Ok(()),
        _ = &mut drain => {
            tracing::warn!(?grace, "connections still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}
