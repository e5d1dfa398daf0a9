//! `/metrics`: what a node counts, read as Prometheus reads it, after real traffic; served on
//! `--metrics-addr` only, never on the public port.

mod common;

use common::{Client, TestServer, PATIENCE};
use huddle::protocol::{close_code, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The value of one series (`name` or `name{labels}`) in a text exposition, 0 if absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// Renders `server`'s metrics until `series` reaches `value` (the connection tasks record as
/// they finish, after the client has seen what they did); panics after [`PATIENCE`].
async fn until(server: &TestServer, series: &str, value: f64) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = server.state.metrics.render();
        if sample(&text, series) == value {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} never became {value}:\n{text}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_conversation_is_counted_without_naming_any_room_or_person() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    for n in 0..3 {
        alice.say(&format!("m{n}"), "whispered-body").await;
    }
    for _ in 0..3 {
        alice.next_message().await;
        bob.next_message().await;
    }
    for n in 0..3 {
        alice.ack_for(&format!("m{n}")).await;
    }
    // Refused upgrades, each by its reason.
    let mut foreign = server.ws_url().into_client_request().unwrap();
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(foreign).await.is_err());
    let bad_since = format!("{}?since=soon", server.ws_url());
    assert!(tokio_tungstenite::connect_async(bad_since).await.is_err());

    let text = until(&server, "huddle_deliveries_total", 6.0).await;
    assert_eq!(sample(&text, "huddle_connections_open"), 2.0, "{text}");
    assert_eq!(
        sample(&text, r#"huddle_upgrades_total{outcome="accepted"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"huddle_upgrades_total{outcome="foreign_origin"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"huddle_upgrades_total{outcome="bad_since"}"#),
        1.0
    );
    assert_eq!(sample(&text, "huddle_messages_stored_total"), 3.0);
    assert_eq!(sample(&text, "huddle_commit_batch_messages_sum"), 3.0);
    assert!(sample(&text, "huddle_commit_batch_messages_count") >= 1.0);
    assert!(sample(&text, "huddle_commit_seconds_count") >= 1.0);
    assert_eq!(sample(&text, "huddle_ack_seconds_count"), 3.0);
    assert!(sample(&text, "huddle_frames_received_total") >= 3.0);
    // Welcomes, the six messages and three acks at least.
    assert!(sample(&text, "huddle_frames_sent_total") >= 11.0, "{text}");
    // Bounded labels only: nothing names the room, a person or a client_id.
    for private in ["lobby", &alice.me.id, &bob.me.id, "m0", "whispered-body"] {
        assert!(!text.contains(private), "{private} in the metrics:\n{text}");
    }

    // A reconnect catching up reads a range of history.
    let mut carol = server.client().await;
    assert_eq!(carol.join(Some(0)).await.len(), 3);
    let text = server.state.metrics.render();
    assert!(sample(&text, r#"huddle_history_queries_total{kind="range"}"#) >= 1.0);
    assert_eq!(sample(&text, "huddle_deliveries_total"), 9.0, "{text}");

    // Closes by code: the client's own.
    drop(carol);
    alice.socket.close(None).await.unwrap();
    until(&server, r#"huddle_closes_total{code="by_client"}"#, 1.0).await;
    until(&server, "huddle_connections_open", 1.0).await;
}

#[tokio::test]
async fn rate_limited_frames_and_a_heartbeat_close_are_counted() {
    let server = TestServer::start_with(|config| {
        config.rate_limit_per_sec = 1;
        config.rate_limit_burst = 2;
        config.heartbeat_interval_ms = 100;
        config.heartbeat_timeout_ms = 100;
    })
    .await;
    let mut flooder = server.client().await;
    for n in 0..5 {
        flooder.say(&format!("f{n}"), "flood").await;
    }
    let mut limited = 0;
    while limited < 3 {
        if let ServerFrame::Error { code, .. } = flooder.next_frame().await {
            assert_eq!(code, ErrorCode::RateLimited);
            limited += 1;
        }
    }
    assert_eq!(
        sample(
            &server.state.metrics.render(),
            "huddle_rate_limited_frames_total"
        ),
        3.0
    );
    // A client that stops reading answers no ping, and is closed with 4009.
    let _silent = Client::connect(&server.ws_url(), None).await;
    let series = format!(
        r#"huddle_closes_total{{code="{}"}}"#,
        close_code::HEARTBEAT_TIMEOUT
    );
    until(&server, &series, 2.0).await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_not_on_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let running = common::start_binary_with(
        &dir.path().join("huddle.db"),
        &["--metrics-addr", &metrics_addr.to_string()],
    )
    .await;
    let _alice = Client::connect(&running.ws_url(), None).await;
    let response = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE huddle_connections_open gauge"),
        "{text}"
    );
    assert_eq!(sample(&text, "huddle_connections_open"), 1.0, "{text}");
    assert!(text.ends_with("# EOF\n"));
    let public = reqwest::get(format!("{}/metrics", running.url))
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "never on the public port");

    // A metrics address already taken is a clear error at start, not a silent lack.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            &metrics_addr.to_string(),
        ])
        .arg("--database")
        .arg(dir.path().join("other.db"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("binding --metrics-addr {metrics_addr}")),
        "{stderr}"
    );
}
