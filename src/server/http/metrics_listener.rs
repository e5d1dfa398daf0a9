//! `/metrics`, on a listener of its own (`--metrics-addr`), never on the public port.
//!
//! Why a port of its own rather than a token on the public one: Prometheus scrapes from inside
//! the network, so the port can stay off the internet (bind it to a private or loopback
//! address, or firewall it) and needs no secret in Prometheus's configuration; and a reverse
//! proxy in front of the public port (deploy/nginx.conf) cannot expose it by mistake. Off
//! unless `--metrics-addr` is given.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::server::metrics::Metrics;

/// What Prometheus expects of the text `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics` for `metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let router = Router::new()
        .route("/metrics", get(render))
        .with_state(metrics);
    axum::serve(listener, router).await
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, OPENMETRICS),
            (header::CACHE_CONTROL, "no-store"),
        ],
        metrics.render(),
    )
}
