//! Opening one client connection the same way for every server under test: TCP from a chosen
//! 127.0.0.x source address (each source address has its own ~28,000 ephemeral ports), the
//! WebSocket handshake, then one frame each way — a Ping answered by a Pong (Huddle's welcome, before it, is skipped) — so that the
//! server has done everything a connection costs before anyone measures it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::adapter::Protocol;

pub type Socket = WebSocketStream<TcpStream>;

/// Longest wait for a connection to open and answer its first Ping.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Small buffers: tens of thousands of these live in a few processes.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
}

pub struct Opened {
    pub socket: Socket,
    /// From starting the TCP connect to the 101 response.
    pub handshake: Duration,
}

/// A receive buffer this small keeps the TCP window nearly shut, as on a phone whose network
/// has gone bad: a client that stops reading then fills the server's buffers within seconds
/// instead of after the megabytes loopback would otherwise absorb.
pub const SMALL_RECEIVE_BUFFER: u32 = 4 * 1024;

/// Opens one connection, with its receive buffer set to `receive_buffer` bytes if given.
pub async fn open(
    url: &str,
    server: SocketAddr,
    source: Option<IpAddr>,
    receive_buffer: Option<u32>,
) -> Result<Opened> {
    tokio::time::timeout(
        OPEN_TIMEOUT,
        open_inner(url, server, source, receive_buffer),
    )
    .await
    .context("timed out opening a connection")?
}

/// Sends `join` and reads until the server confirms it, so the connection is in its room
/// before anyone publishes.
pub async fn join(socket: &mut Socket, protocol: Protocol, join: &str) -> Result<()> {
    let confirmed = async {
        socket.send(Message::text(join)).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if protocol.is_joined(&text) => return Ok(()),
                Some(Ok(Message::Close(frame))) => bail!("closed instead of joining: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err).context("reading the join's answer"),
                None => bail!("closed instead of joining"),
            }
        }
    };
    tokio::time::timeout(OPEN_TIMEOUT, confirmed)
        .await
        .context("timed out joining a room")?
}

async fn open_inner(
    url: &str,
    server: SocketAddr,
    source: Option<IpAddr>,
    receive_buffer: Option<u32>,
) -> Result<Opened> {
    let started = Instant::now();
    let tcp = TcpSocket::new_v4()?;
    if let Some(size) = receive_buffer {
        // Before connecting: the window scale is agreed in the handshake.
        tcp.set_recv_buffer_size(size)?;
    }
    if let Some(source) = source {
        tcp.bind(SocketAddr::new(source, 0))?;
    }
    let stream = tcp.connect(server).await.context("TCP connect")?;
    stream.set_nodelay(true)?;
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(client_config()))
            .await
            .context("WebSocket handshake")?;
    let handshake = started.elapsed();

    socket.send(Message::Ping(b"hello".to_vec().into())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Pong(_))) => break,
            Some(Ok(Message::Close(frame))) => bail!("closed before answering a ping: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err).context("reading the first frames"),
            None => bail!("closed before answering a ping"),
        }
    }
    Ok(Opened { socket, handshake })
}
