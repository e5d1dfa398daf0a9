//! Running the server until a shutdown signal, then draining it within a bound.

use std::future::{Future, IntoFuture};

use tokio::net::TcpListener;

use crate::server::router::router;
use crate::server::state::AppState;

/// Serves `state` on `listener` until `signal` resolves. Then it refuses new upgrades, closes
/// every socket with 1001, and returns once HTTP connections and sockets are done or the
/// configured grace period has passed, whichever comes first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let grace = state.config.shutdown_grace();
    let begin = {
        let shutdown = shutdown.clone();
        async move {
            signal.await;
            tracing::info!("shutting down: closing sockets");
            shutdown.begin();
        }
    };
    let http = axum::serve(listener, router(state))
        .with_graceful_shutdown(begin)
        .into_future();
    let run = async {
        let result = http.await;
        // Idempotent after the signal; after a listener error it ends the sockets too.
        shutdown.begin();
        shutdown.sockets_closed().await;
        result
    };
    let deadline = async {
        shutdown.begun().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = run => result,
        _ = deadline => {
            tracing::warn!(?grace, "connections still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}
