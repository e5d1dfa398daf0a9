//! Faults of the disk under the history: the real binary on a real SQLite file that another
//! process holds locked. The sender gets a retryable `store_unavailable`, the node reports
//! itself not ready, everything acked is still there afterwards, and once the cause goes the
//! node is ready again and the retry is stored once.
//!
//! (A full disk, made with a file-size limit on the process, is not here yet: under load one
//! run in a few answered a send "shutting down" instead of `store_unavailable`, unexplained so
//! far; see the session note.)

mod common;

use std::path::Path;
use std::time::Duration;

use common::{start_binary_wrapped, Client, Running, PATIENCE};
use huddle::protocol::{ClientFrame, ErrorCode, ServerFrame};

/// `/readyz`'s status and body.
async fn readiness(running: &Running) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{}/readyz", running.url))
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `/readyz` until it answers `status` (within the patience bound); returns the body.
async fn readiness_becomes(running: &Running, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (now, body) = readiness(running).await;
        if now == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still {now}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `text` with `client_id`: the seq it was acked with, or the refusal.
async fn send(
    client: &mut Client,
    client_id: &str,
    text: &str,
) -> Result<u64, (ErrorCode, String)> {
    client
        .send_frame(&ClientFrame::Send {
            room: "lobby".into(),
            client_id: client_id.into(),
            text: text.into(),
        })
        .await;
    loop {
        match client.next_frame().await {
            ServerFrame::Ack {
                client_id: acked,
                seq,
                ..
            } if acked == client_id => return Ok(seq),
            ServerFrame::Error { code, message } => return Err((code, message)),
            _ => {}
        }
    }
}

/// Every stored (client_id, seq) of the lobby, read from the file after the server stopped.
fn stored(database: &Path) -> Vec<(String, u64)> {
    let connection = rusqlite::Connection::open(database).unwrap();
    let mut statement = connection
        .prepare("SELECT client_id, seq FROM messages WHERE room = 'lobby' ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Stops the binary the way an operator does (SIGTERM) and waits for it.
async fn stop(mut running: Running) {
    let pid = running.child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    tokio::time::timeout(PATIENCE, running.child.wait())
        .await
        .expect("the server stops within the patience bound")
        .unwrap();
}

#[tokio::test]
async fn a_database_locked_by_another_process_refuses_sends_until_the_lock_goes() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("huddle.db");
    let running = start_binary_wrapped(
        &[],
        "127.0.0.1:0",
        &database,
        &["--rate-limit-per-sec", "0"],
    )
    .await;
    let mut client = Client::connect(&running.ws_url(), None).await;
    client.join(None).await;
    assert_eq!(send(&mut client, "first", "before the lock").await, Ok(1));

    // A backup tool, say, takes the write lock and keeps it.
    let holder = rusqlite::Connection::open(&database).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (code, message) = send(&mut client, "second", "during the lock")
        .await
        .unwrap_err();
    assert_eq!(code, ErrorCode::StoreUnavailable);
    assert!(message.contains("locked"), "{message}");
    let body = readiness_becomes(&running, 503).await;
    assert_eq!(body["history"]["ok"], false, "{body}");

    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    readiness_becomes(&running, 200).await;
    assert_eq!(send(&mut client, "second", "during the lock").await, Ok(2));
    drop(client);
    stop(running).await;
    assert_eq!(
        stored(&database),
        vec![("first".to_owned(), 1), ("second".to_owned(), 2)]
    );
}
