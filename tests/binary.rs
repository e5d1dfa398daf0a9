//! The `huddle` binary as an operator runs it.

mod common;

use std::time::{Duration, Instant};

use common::{start_binary, Client};
use huddle::protocol::close_code;
use tokio::process::{Child, Command};

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_and_exits_within_10_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_binary(&dir.path().join("huddle.db")).await;
    let ws_url = running.ws_url();
    let mut child = running.child;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Client::connect(&ws_url, None).await);
    }

    let signalled = Instant::now();
    send_signal(&child, "-TERM");
    for client in &mut clients {
        assert_eq!(
            u16::from(client.close_frame().await.code),
            close_code::GOING_AWAY
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit, got {status}");
    assert!(signalled.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sigint_stops_the_server_too() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_binary(&dir.path().join("huddle.db")).await;
    let ws_url = running.ws_url();
    let mut child = running.child;
    let mut client = Client::connect(&ws_url, None).await;
    send_signal(&child, "-INT");
    assert_eq!(
        u16::from(client.close_frame().await.code),
        close_code::GOING_AWAY
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_bad_flag_is_refused_with_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", "not-an-address", "--database", ":memory:"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--addr"), "{stderr}");
}

#[tokio::test]
async fn an_unusable_database_path_is_reported_not_panicked_on() {
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--database",
            "/nonexistent-dir/huddle.db",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("opening the history database /nonexistent-dir/huddle.db"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_busy_port_is_reported_not_panicked_on() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", &addr, "--database", ":memory:"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("binding {addr}")), "{stderr}");
}
