//! The HTTP/1.1 server under the router: what `axum::serve` does, plus the deadline it lacks.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs: a client that
//! sends half a request line and then one byte every few seconds (slowloris) holds a connection,
//! a task and a descriptor for as long as it likes, and a few thousand of them use up the
//! process's descriptors. Here every connection gets hyper's HTTP/1 builder with a Tokio timer
//! and `header_read_timeout`: a request's head must arrive whole within it, counted from when
//! the server starts waiting for it (on connect, and again after each response on a kept-alive
//! connection), however slowly its bytes trickle in. Bodies and handlers are bounded by the
//! router's request timeout (`server::http::router`).

use std::future::Future;
use std::os::fd::AsRawFd;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::server::transport::listener::{AcceptedSocket, TunedListener};

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, lets each
/// connection finish the request it is on (hyper's graceful shutdown: idle ones close at once)
/// and returns when they have. Upgraded WebSockets are no longer HTTP connections by then: the
/// hub drains those (`server::serve`).
///
/// Every request can reach the socket it came on, as axum's `ConnectInfo<AcceptedSocket>`.
pub async fn serve_http(
    mut listener: TunedListener,
    router: Router,
    header_read_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let socket = AcceptedSocket::new(stream.as_raw_fd(), peer);
        let router = router.clone();
        let stopping = stopping.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(socket));
                router.clone().oneshot(request.map(Body::new))
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stopping.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A client that hangs up, sends garbage or runs out of time: its own business,
            // and nothing the operator can act on.
            if let Err(err) = served {
                tracing::debug!(%peer, %err, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
}
