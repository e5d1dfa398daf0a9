//! Faults of the disk under the history: the real binary on a real SQLite file, made to fail
//! by the kernel (a file-size limit: every write past it fails as on a full disk) or by another
//! process holding the database locked. Each time: the sender gets a retryable
//! `store_unavailable`, the node reports itself not ready, everything acked is still there
//! afterwards, and once the cause goes the node is ready again and the retry is stored once.

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

/// Sets the largest file the server process may write (`RLIMIT_FSIZE`), as a full disk
/// would: writes past it fail with EFBIG. `None` lifts the limit.
fn limit_file_size(running: &Running, bytes: Option<u64>) {
    let limit = bytes.map_or("unlimited".to_owned(), |bytes| bytes.to_string());
    let status = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(running.child.id().unwrap().to_string())
        .arg(format!("--fsize={limit}:unlimited"))
        .status()
        .unwrap();
    assert!(status.success(), "prlimit failed");
}

#[tokio::test]
async fn a_full_disk_refuses_sends_as_retryable_reports_not_ready_and_loses_nothing_acked() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("huddle.db");
    // The kernel would kill a process writing past its limit (SIGXFSZ); ignored, the write
    // fails instead, as on a full disk.
    let wrapper = ["bash", "-c", "trap '' XFSZ; exec \"$@\"", "huddle"];
    let running = start_binary_wrapped(
        &wrapper,
        "127.0.0.1:0",
        &database,
        &["--rate-limit-per-sec", "0"],
    )
    .await;
    let mut client = Client::connect(&running.ws_url(), None).await;
    client.join(None).await;
    assert_eq!(
        send(&mut client, "before", "written while there was room").await,
        Ok(1)
    );
    // No write past the first 16 KiB of any file. Commits go to the write-ahead log, which
    // is rewritten from its start once it has been copied back into the database file; that
    // copy writes the file's pages past 16 KiB and cannot finish, so the log cannot start
    // over and soon cannot grow: the disk is full for good, until the limit goes.
    limit_file_size(&running, Some(16 * 1024));

    let mut acked = vec![("before".to_owned(), 1)];
    let mut refused = None;
    for n in 0..5_000 {
        let client_id = format!("c-{n}");
        match send(&mut client, &client_id, "filling the disk").await {
            Ok(seq) => acked.push((client_id, seq)),
            Err((code, message)) => {
                assert_eq!(code, ErrorCode::StoreUnavailable, "{message}");
                assert!(message.contains("retry with client_id"), "{message}");
                refused = Some((client_id, message));
                break;
            }
        }
    }
    let (refused, refusal) = refused.expect("the disk filled up within 5,000 messages");

    // Not ready, saying why; pages are still served from what is stored.
    let (status, body) = readiness(&running).await;
    assert_eq!(status, 503, "{body} after {refusal}");
    assert_eq!(body["history"]["ok"], false, "{body}");
    let why = body["history"]["error"].as_str().unwrap();
    assert!(why.contains("messages cannot be stored"), "{why}");
    let page = reqwest::get(format!("{}/", running.url)).await.unwrap();
    assert_eq!(page.status(), 200);

    // The disk has room again: ready, and the retry is stored, once.
    limit_file_size(&running, None);
    readiness_becomes(&running, 200).await;
    let seq = send(&mut client, &refused, "filling the disk")
        .await
        .unwrap();
    assert_eq!(
        seq,
        acked.last().unwrap().1 + 1,
        "the seqs go on without a gap"
    );
    acked.push((refused, seq));
    drop(client);
    stop(running).await;
    assert_eq!(
        stored(&database),
        acked,
        "every acked message, once, and nothing else"
    );
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
