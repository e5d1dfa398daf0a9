//! The benchmark's load generator, run small against a real Huddle server and the bare
//! tokio-tungstenite peer, so that the benchmark (docs/benchmarks.md) cannot rot unnoticed:
//! every published message must be counted once per receiver, none lost, none twice.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{TestServer, PATIENCE};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// `cargo test` builds the examples next to the server binary.
fn example(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_huddle"))
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(path.exists(), "{} is built by `cargo test`", path.display());
    path
}

struct Worker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn start(url: &str, protocol: &str, role: &[&str]) -> Worker {
        let mut child = Command::new(example("loadgen"))
            .args([
                "--url",
                url,
                "--protocol",
                protocol,
                "--deadline-secs",
                "30",
            ])
            .args(role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the load generator starts");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Worker { child, lines }
    }

    /// The next event line of kind `event`, skipping others.
    async fn next(&mut self, event: &str) -> Value {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("worker ended early");
                let value: Value = serde_json::from_str(&line).unwrap();
                if value["event"] == event {
                    return value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {event} event"))
    }

    /// Waits for a progress event reporting at least `deliveries`.
    async fn until_delivered(&mut self, deliveries: u64) {
        loop {
            let progress = self.next("progress").await;
            if progress["deliveries"].as_u64().unwrap() >= deliveries {
                return;
            }
        }
    }

    /// Closes stdin (the stop signal) and returns the final report.
    async fn stop(&mut self) -> Value {
        drop(self.child.stdin.take());
        let report = self.next("report").await;
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "{status}");
        report
    }
}

async fn publish_to_three_subscribers(url: &str, protocol: &str) -> (Value, Value) {
    let mut subscribers = Worker::start(url, protocol, &["subscribe", "--connections", "3"]);
    let ready = subscribers.next("ready").await;
    assert_eq!(ready["opened"], 3, "{ready}");

    let mut publisher = Worker::start(url, protocol, &["publish", "--steps", "40:0.5"]);
    let published = publisher.next("report").await;
    assert!(publisher.child.wait().await.unwrap().success());
    assert_eq!(
        published["sent_per_step"],
        serde_json::json!([20]),
        "{published}"
    );

    subscribers.until_delivered(60).await;
    (published, subscribers.stop().await)
}

fn assert_every_message_reached_every_subscriber_once(report: &Value) {
    assert_eq!(report["deliveries"], 60, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    let messages = report["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 20);
    assert!(
        messages.iter().all(|m| m[3] == 3),
        "each message reached all three"
    );
    assert_eq!(report["steps"][0]["latency"]["count"], 60);
}

#[tokio::test]
async fn a_small_run_against_huddle_counts_every_delivery_and_ack() {
    let server = TestServer::start().await;
    let (published, received) = publish_to_three_subscribers(&server.ws_url(), "huddle").await;
    assert_eq!(published["unacked"], 0, "{published}");
    assert_eq!(published["acks"]["count"], 20, "{published}");
    assert_every_message_reached_every_subscriber_once(&received);
    assert_eq!(server.stored_messages().await.len(), 20);
}

/// Six subscribers in three rooms, a publisher round robin over the three: each message
/// reaches exactly the two members of its room.
async fn publish_to_three_rooms(url: &str, protocol: &str) -> Value {
    let mut first = Worker::start(
        url,
        protocol,
        &["subscribe", "--connections", "4", "--rooms", "3"],
    );
    let mut second = Worker::start(
        url,
        protocol,
        &[
            "subscribe",
            "--connections",
            "2",
            "--rooms",
            "3",
            "--room-offset",
            "4",
        ],
    );
    assert_eq!(first.next("ready").await["opened"], 4);
    assert_eq!(second.next("ready").await["opened"], 2);
    let mut publisher = Worker::start(
        url,
        protocol,
        &["publish", "--rooms", "3", "--steps", "60:0.5"],
    );
    let published = publisher.next("report").await;
    assert!(publisher.child.wait().await.unwrap().success());
    assert_eq!(
        published["sent_per_step"],
        serde_json::json!([30]),
        "{published}"
    );
    // Worker one holds rooms 0, 1, 2, 0 and worker two rooms 1, 2: 40 + 20 deliveries.
    first.until_delivered(40).await;
    second.until_delivered(20).await;
    let (first, second) = (first.stop().await, second.stop().await);
    let mut receivers = std::collections::HashMap::<u64, u64>::new();
    for report in [&first, &second] {
        assert_eq!(report["duplicates"], 0, "{report}");
        for m in report["messages"].as_array().unwrap() {
            *receivers.entry(m[2].as_u64().unwrap()).or_default() += m[3].as_u64().unwrap();
        }
    }
    assert_eq!(receivers.len(), 30, "every message arrived somewhere");
    assert!(receivers.values().all(|&n| n == 2), "{receivers:?}");
    published
}

#[tokio::test]
async fn a_many_rooms_run_against_huddle_keeps_each_message_in_its_room() {
    let server = TestServer::start().await;
    let published = publish_to_three_rooms(&server.ws_url(), "huddle").await;
    assert_eq!(published["unacked"], 0, "{published}");
    // The load generator has exited; the server notices each close as it reads it.
    let left = tokio::time::timeout(PATIENCE, async {
        while server.state.hub.member_count("room-1") > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(left.is_ok(), "everyone left");
}

/// The tungstenite peer, started on a free port; returns its ws:// URL.
async fn start_tungstenite_peer() -> (tokio::process::Child, String) {
    let mut peer = Command::new(example("peer-tungstenite"))
        .arg("0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the peer starts");
    let mut lines = BufReader::new(peer.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = listening.strip_prefix("listening on ").expect(&listening);
    (peer, format!("ws://{addr}/ws"))
}

#[tokio::test]
async fn a_small_run_against_the_tungstenite_peer_counts_every_delivery() {
    let (_peer, url) = start_tungstenite_peer().await;
    let (_, received) = publish_to_three_subscribers(&url, "plain").await;
    assert_every_message_reached_every_subscriber_once(&received);
}

#[tokio::test]
async fn a_many_rooms_run_against_the_tungstenite_peer_keeps_each_message_in_its_room() {
    let (_peer, url) = start_tungstenite_peer().await;
    publish_to_three_rooms(&url, "plain").await;
}

#[tokio::test]
async fn holders_report_handshakes_and_connections_the_server_refused() {
    let server = TestServer::start().await;
    let mut holder = Worker::start(&server.ws_url(), "huddle", &["hold", "--connections", "5"]);
    assert_eq!(holder.next("ready").await["opened"], 5);
    let report = holder.stop().await;
    assert_eq!(report["handshake"]["count"], 5, "{report}");
    assert_eq!(report["ended_early"], 0, "{report}");

    // Nothing listens on port 9 (discard) on loopback: every connection fails, and says why.
    let mut refused = Worker::start(
        "ws://127.0.0.1:9/ws",
        "huddle",
        &["hold", "--connections", "2"],
    );
    let ready = refused.next("ready").await;
    assert_eq!(
        (ready["opened"].as_u64(), ready["failed"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(
        ready["first_error"].as_str().unwrap().contains("connect"),
        "{ready}"
    );
}

#[tokio::test]
async fn a_malformed_step_is_refused_with_a_clear_error() {
    let output = Command::new(example("loadgen"))
        .args(["--url", "ws://127.0.0.1:9/ws", "publish", "--steps", "fast"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rate:secs"), "{stderr}");
}
