//! Dead peers, stalled readers and restarts: the server notices and stays bounded.

mod common;

use std::time::{Duration, Instant};

use common::{raw, TestServer};
use huddle::protocol::{close_code, ClientFrame, ServerFrame};
use raw::read_until_close;
use tokio::io::Interest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A peer that upgraded and then never answers anything (see [`raw::upgraded`]).
async fn silent_peer(server: &TestServer) -> TcpStream {
    raw::upgraded(server.addr, None).await
}

/// Like [`silent_peer`], with the receive buffer set to `receive_buffer` bytes, as a client
/// on a stalled link offers a small window.
async fn silent_peer_with_window(server: &TestServer, receive_buffer: Option<u32>) -> TcpStream {
    raw::upgraded(server.addr, receive_buffer).await
}

#[tokio::test]
async fn a_client_that_ignores_pings_is_closed_within_h_plus_t() {
    let (h, t) = (Duration::from_millis(1_000), Duration::from_millis(1_000));
    let server = TestServer::start_with(|config| {
        config.heartbeat_interval_ms = 1_000;
        config.heartbeat_timeout_ms = 1_000;
    })
    .await;
    let connected = Instant::now();
    let mut peer = silent_peer(&server).await;
    let code = tokio::time::timeout(common::PATIENCE, read_until_close(&mut peer))
        .await
        .expect("closed within the patience bound");
    let elapsed = connected.elapsed();
    assert_eq!(code, close_code::HEARTBEAT_TIMEOUT);
    assert!(elapsed >= h, "not before a ping was even due: {elapsed:?}");
    assert!(
        elapsed <= h + t + Duration::from_millis(200),
        "closed after {elapsed:?}"
    );
    assert_eq!(
        server.state.hub.member_count("lobby"),
        0,
        "it left its rooms"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_evicted_then_reset_so_nothing_is_kept_for_it() {
    let server = TestServer::for_floods(16).await;
    let stalled = silent_peer_with_window(&server, Some(2_048)).await;
    let mut sender = server.client().await;
    // Until the stalled connection has been evicted (it leaves the registry): by then its
    // writes are blocked and its queue full.
    sender
        .flood_while(8, 2_000, || server.state.registry.len() > 1)
        .await;
    let evicted = Instant::now();
    // Its close frame cannot pass the backlog, so after the close handshake's bound the
    // server resets the connection, rather than leave the kernel holding the backlog and
    // retrying it. The client sees the reset without reading anything.
    let ready = tokio::time::timeout(common::PATIENCE, stalled.ready(Interest::ERROR))
        .await
        .expect("the connection was reset, not left open")
        .unwrap();
    assert!(ready.is_error());
    let error = stalled
        .take_error()
        .unwrap()
        .expect("an error on the socket");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    let waited = evicted.elapsed();
    assert!(
        waited
            <= huddle::server::transport::close::CLOSE_HANDSHAKE_TIMEOUT + Duration::from_secs(1),
        "reset {waited:?} after the eviction"
    );
    sender.assert_nothing_pending().await;
}

#[tokio::test]
async fn a_client_that_closes_gets_a_clean_close_not_a_reset() {
    let server = TestServer::start().await;
    let mut peer = silent_peer(&server).await;
    // A masked close frame with code 1000 (the zero mask leaves the payload as it is).
    peer.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    let code = tokio::time::timeout(common::PATIENCE, read_until_close(&mut peer))
        .await
        .expect("the server answers the close");
    assert_eq!(code, 1000);
    // Then the server ends the connection with a FIN: end of stream, not a reset.
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(common::PATIENCE, peer.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection");
    assert!(ended.is_ok(), "the connection was reset: {ended:?}");
    assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
}

#[tokio::test]
async fn a_client_that_answers_stays_connected_across_many_heartbeats() {
    let server = TestServer::start_with(|config| {
        config.heartbeat_interval_ms = 50;
        config.heartbeat_timeout_ms = 100;
    })
    .await;
    let mut client = server.client().await;
    // Reading answers WebSocket pings; answer the application pings too.
    let mut pings = 0;
    while pings < 10 {
        if let ServerFrame::Ping { t } = client.next_frame().await {
            client.send_frame(&ClientFrame::Pong { t }).await;
            pings += 1;
        }
    }
    client.assert_nothing_pending().await;
}

#[tokio::test]
async fn a_client_ping_is_answered_with_the_same_t() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    client.send_frame(&ClientFrame::Ping { t: 12345 }).await;
    assert_eq!(client.next_frame().await, ServerFrame::Pong { t: 12345 });
}

#[tokio::test]
async fn welcome_announces_the_heartbeat() {
    let server = TestServer::start_with(|config| {
        config.heartbeat_interval_ms = 1234;
        config.heartbeat_timeout_ms = 567;
    })
    .await;
    let url = server.ws_url();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::StreamExt;
    let first = socket.next().await.unwrap().unwrap();
    let frame: ServerFrame = serde_json::from_str(first.to_text().unwrap()).unwrap();
    match frame {
        ServerFrame::Welcome { heartbeat, .. } => {
            assert_eq!((heartbeat.interval_ms, heartbeat.timeout_ms), (1234, 567));
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn during_shutdown_new_upgrades_get_503_with_retry_after() {
    let mut server = TestServer::start().await;
    // A client that never answers the close keeps the drain going for its close timeout.
    let _stubborn = server.client().await;
    server.signal_shutdown();
    let response = loop {
        match tokio_tungstenite::connect_async(server.ws_url()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => break response,
            // Raced the signal: the upgrade went through and is being closed; try again.
            Ok(_) => continue,
            Err(other) => panic!("expected an HTTP refusal, got {other}"),
        }
    };
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn shutdown_sends_every_owed_ack_before_closing_with_1012() {
    use tokio_tungstenite::tungstenite::Message;
    let mut server = TestServer::start().await;
    let mut alice = server.client().await;
    for n in 0..200 {
        alice.say(&format!("c-{n}"), "in flight").await;
    }
    server.signal_shutdown();
    let mut acked = std::collections::HashSet::new();
    let close = loop {
        match alice.next_raw().await {
            Message::Text(text) => {
                if let Ok(ServerFrame::Ack { client_id, .. }) = serde_json::from_str(text.as_str())
                {
                    acked.insert(client_id);
                }
            }
            Message::Close(Some(frame)) => break frame,
            _ => {}
        }
    };
    assert_eq!(u16::from(close.code), close_code::SERVICE_RESTART);
    server.shutdown().await.unwrap();
    // Every message the server took is stored and was acknowledged before the close.
    let stored = server
        .state
        .store
        .range("lobby", 0, u64::MAX)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for message in &stored {
        assert!(
            acked.contains(&message.client_id),
            "{} stored without an ack",
            message.client_id
        );
    }
}

/// 1,000 connections opened in one burst, as after a restart: their first pings (and so all
/// later ones, a whole interval apart) are spread out, not due in the same 100 ms.
#[tokio::test]
async fn connections_opened_together_do_not_ping_together() {
    use futures_util::StreamExt;
    const CONNECTIONS: usize = 1_000;
    const INTERVAL_MS: u64 = 2_000;
    let server = TestServer::start_with(|config| {
        config.heartbeat_interval_ms = INTERVAL_MS;
        config.heartbeat_timeout_ms = 60_000;
        config.max_sockets_per_address = 0;
    })
    .await;
    let start = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let url = server.ws_url();
        clients.spawn(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut welcomed = None;
            loop {
                let message = socket.next().await.unwrap().unwrap();
                let Ok(text) = message.to_text() else {
                    continue;
                };
                match serde_json::from_str::<ServerFrame>(text) {
                    Ok(ServerFrame::Welcome { .. }) => welcomed = Some(Instant::now()),
                    Ok(ServerFrame::Ping { .. }) => {
                        let pinged = Instant::now();
                        let welcomed = welcomed.expect("a ping before the welcome");
                        // Held open until every client has its ping, so none leaves early.
                        return (pinged - welcomed, pinged, socket);
                    }
                    _ => {}
                }
            }
        });
    }
    let mut after_welcome = Vec::new();
    let mut pinged_at = Vec::new();
    let mut sockets = Vec::new();
    while let Some(joined) = clients.join_next().await {
        let (delay, at, socket) = joined.unwrap();
        after_welcome.push(delay);
        pinged_at.push(at - start);
        sockets.push(socket);
    }
    let busiest = |times: &[Duration]| {
        let mut per_100ms = std::collections::BTreeMap::<u128, usize>::new();
        for time in times {
            *per_100ms.entry(time.as_millis() / 100).or_default() += 1;
        }
        *per_100ms.values().max().unwrap()
    };
    let interval = Duration::from_millis(INTERVAL_MS);
    assert!(after_welcome
        .iter()
        .all(|delay| *delay <= interval + Duration::from_millis(500)));
    let earliest = after_welcome.iter().min().unwrap();
    let latest = after_welcome.iter().max().unwrap();
    assert!(
        *latest - *earliest >= interval * 4 / 10,
        "first pings came {earliest:?}..{latest:?} after the welcome"
    );
    // Spread over half the 2 s interval, 1,000 pings are about 100 per 100 ms; without the
    // spread, all 1,000 would fall in one.
    for (what, times) in [
        ("after the welcome", &after_welcome),
        ("in time", &pinged_at),
    ] {
        let most = busiest(times);
        assert!(
            most <= CONNECTIONS / 4,
            "{most} of {CONNECTIONS} first pings fell in one 100 ms ({what})"
        );
    }
    drop(sockets);
}
