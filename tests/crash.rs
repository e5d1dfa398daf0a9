//! Crash safety: SIGKILL while clients are sending loses no acknowledged message.

mod common;

use std::collections::HashMap;

use common::{start_binary, Client};
use huddle::protocol::ServerFrame;
use huddle::server::store::{SqliteStore, Store};
use tokio::sync::mpsc;

/// Sends numbered messages, a burst at a time, recording every ack until the server dies.
async fn send_until_killed(
    mut client: Client,
    name: String,
    acks: mpsc::UnboundedSender<(String, u64)>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    for burst in 0.. {
        for n in 0..10 {
            let frame = format!(
                r#"{{"type":"send","room":"lobby","client_id":"{name}-{burst}-{n}","text":"{name} {burst}.{n}"}}"#
            );
            if client.socket.send(Message::text(frame)).await.is_err() {
                return;
            }
        }
        let mut acked_in_burst = 0;
        while acked_in_burst < 10 {
            let Some(Ok(Message::Text(text))) = client.socket.next().await else {
                return; // the server is gone
            };
            if let Ok(ServerFrame::Ack { client_id, seq, .. }) = serde_json::from_str(text.as_str())
            {
                let _ = acks.send((client_id, seq));
                acked_in_burst += 1;
            }
        }
    }
}

#[tokio::test]
async fn every_acknowledged_message_survives_sigkill_exactly_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("huddle.db");
    // Senders go as fast as they can: the rate limit would only slow the test down.
    let mut running = common::start_binary_with(&database, &["--rate-limit-per-sec", "0"]).await;
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for k in 0..4 {
        let client = Client::connect(&running.ws_url(), None).await;
        senders.push(tokio::spawn(send_until_killed(
            client,
            format!("c{k}"),
            ack_tx.clone(),
        )));
    }
    drop(ack_tx);
    // Kill mid-stream, once a fair number of acks has been seen and sends are still flowing.
    let mut acks = Vec::new();
    tokio::time::timeout(common::PATIENCE, async {
        while acks.len() < 400 {
            acks.push(ack_rx.recv().await.expect("senders still running"));
        }
    })
    .await
    .expect("400 acks within the patience bound");
    running.child.start_kill().unwrap();
    running.child.wait().await.unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    while let Some(ack) = ack_rx.recv().await {
        acks.push(ack);
    }

    // The file is sound, and every acknowledged message is there once, at its seq.
    let store = SqliteStore::open(&database).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let stored = store.range("lobby", 0, u64::MAX).await.unwrap();
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "no gap, in order"
    );
    let by_seq: HashMap<u64, &str> = stored
        .iter()
        .map(|m| (m.seq, m.client_id.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    assert!(
        stored.iter().all(|m| seen.insert(m.client_id.clone())),
        "no message twice"
    );
    for (client_id, seq) in &acks {
        assert_eq!(
            by_seq.get(seq),
            Some(&client_id.as_str()),
            "acked {client_id} at {seq} is stored"
        );
    }
    // Each sender's messages are stored in the order it sent them.
    for k in 0..4 {
        let mine: Vec<&str> = stored
            .iter()
            .filter(|m| m.client_id.starts_with(&format!("c{k}-")))
            .map(|m| m.text.as_str())
            .collect();
        let mut sorted = mine.clone();
        sorted.sort_by_key(|t| {
            let (burst, n) = t.split_once(' ').unwrap().1.split_once('.').unwrap();
            (burst.parse::<u32>().unwrap(), n.parse::<u32>().unwrap())
        });
        assert_eq!(mine, sorted);
    }
    store.close().await;

    // The restarted server serves that history and continues the seqs.
    let running = start_binary(&database).await;
    let mut reader = Client::connect(&running.ws_url(), None).await;
    let history = reader.join(Some(0)).await;
    assert_eq!(history.len(), stored.len());
    reader.say("after-crash", "still here").await;
    assert_eq!(
        reader.ack_for("after-crash").await.1,
        stored.len() as u64 + 1
    );
}
