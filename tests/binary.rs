//! The `huddle` binary as an operator runs it.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Client;
use huddle::protocol::close_code;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running binary, the URL it printed, and the directory holding its database.
struct Running {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

/// Starts the binary on an ephemeral port with a fresh database.
async fn start_binary(extra_args: &[&str]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("huddle.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", "127.0.0.1:0", "--log", "warn"])
        .arg("--database")
        .arg(&database)
        .args(extra_args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the huddle binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(common::PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("open ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the binary exited without printing its URL");
    })
    .await
    .expect("the binary prints its URL");
    Running {
        child,
        url,
        _dir: dir,
    }
}

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
    let Running {
        mut child,
        url,
        _dir,
        ..
    } = start_binary(&[]).await;
    let ws_url = format!("{}/ws", url.replacen("http://", "ws://", 1));
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
    let Running {
        mut child,
        url,
        _dir,
        ..
    } = start_binary(&[]).await;
    let ws_url = format!("{}/ws", url.replacen("http://", "ws://", 1));
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
