//! `GET /diagnostic/echo`: a WebSocket echo route for the Autobahn conformance suite.
//!
//! It is off by default (`--diagnostic-echo`). It goes through the same configuration, error
//! mapping and close handshake as chat sockets, so conformance verdicts speak for them.

use axum::extract::State;
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tungstenite::Message;

use crate::protocol::close_code;
use crate::server::http::socket_admission::refuse_during_shutdown;
use crate::server::shutdown::Shutdown;
use crate::server::state::AppState;
use crate::server::transport::close::{close, Ending};
use crate::server::transport::socket_policy;
use crate::server::transport::upgrade::SocketUpgrade;

pub async fn upgrade(State(state): State<AppState>, ws: SocketUpgrade) -> Response {
    if state.shutdown.has_begun() {
        return refuse_during_shutdown();
    }
    let guard = state.shutdown.guard();
    let shutdown = state.shutdown.clone();
    ws.on_upgrade(
        socket_policy::websocket_config(&state.config),
        move |socket| async move {
            let _guard = guard;
            echo(socket, shutdown).await;
        },
    )
}

async fn echo<S>(mut socket: S, shutdown: Shutdown)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    let ending = loop {
        tokio::select! {
            _ = shutdown.begun() => break Ending::Close(close_code::GOING_AWAY, "server shutting down".into()),
            incoming = socket.next() => match incoming {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if socket.send(message).await.is_err() {
                        break Ending::Vanished;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => break Ending::PeerClosed,
                Some(Err(err)) => break socket_policy::ending_for(&err),
                None => break Ending::Vanished,
            },
        }
    };
    close(&mut socket, ending).await;
}
