//! Nothing lost, nothing twice, order kept: acks, retries, resume and history.

mod common;

use common::TestServer;
use huddle::protocol::{ErrorCode, HistoryPage, ServerFrame};

#[tokio::test]
async fn a_send_is_acked_with_its_id_and_seq_after_it_is_stored() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("c-1", "one").await;
    alice.say("c-2", "two").await;
    let (id1, seq1) = alice.ack_for("c-1").await;
    let (_, seq2) = alice.ack_for("c-2").await;
    assert_eq!((seq1, seq2), (1, 2));
    let stored = server.state.store.range("lobby", 0, 10).await.unwrap();
    assert_eq!(stored.len(), 2, "acked means stored");
    assert_eq!(stored[0].id, id1);
}

#[tokio::test]
async fn a_burst_of_sends_gets_every_ack_once_in_send_order_and_every_copy_once() {
    let server = TestServer::start_with(|config| config.rate_limit_per_sec = 0).await;
    let mut alice = server.client().await;
    // More than the 64 sends a socket lets wait for their commit, written without reading:
    // acks go out in bursts, together with the sender's own copies.
    const SENDS: usize = 300;
    for n in 0..SENDS {
        alice.say(&format!("c-{n}"), &format!("m{n}")).await;
    }
    let (mut acked, mut copies) = (Vec::new(), Vec::new());
    while acked.len() < SENDS || copies.len() < SENDS {
        match alice.next_frame().await {
            ServerFrame::Ack { client_id, seq, .. } => acked.push((client_id, seq)),
            ServerFrame::Message(message) => copies.push((message.client_id, message.seq)),
            ServerFrame::Ping { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<_> = (0..SENDS)
        .map(|n| (format!("c-{n}"), n as u64 + 1))
        .collect();
    assert_eq!(acked, expected, "acks in send order, each once");
    assert_eq!(copies, expected, "own copies in seq order, each once");
    alice.assert_nothing_pending().await;
}

#[tokio::test]
async fn a_retried_client_id_is_stored_once_and_acked_the_same() {
    let server = TestServer::start_with(|_| {}).await;
    let cookie = &server.guest_cookie("Retry").await;
    let mut first = server.client_with_cookie(cookie).await;
    let mut watcher = server.client().await;
    first.say("same-id", "hello").await;
    let original = first.ack_for("same-id").await;
    assert_eq!(watcher.next_message().await.client_id, "same-id");

    // The connection drops before the ack was seen; the page retries on a new connection.
    drop(first);
    let mut again = server.client_with_cookie(cookie).await;
    again.say("same-id", "hello").await;
    assert_eq!(
        again.ack_for("same-id").await,
        original,
        "the same ack, id and seq"
    );

    // Exactly one copy reached everyone: the watcher's next message is a fresh marker.
    again.say("marker", "marker").await;
    assert_eq!(watcher.next_message().await.client_id, "marker");
    assert_eq!(server.stored_messages().await.len(), 2);
}

#[tokio::test]
async fn a_resumed_client_gets_missed_messages_in_order_then_live_ones_without_duplicates() {
    let server = TestServer::start().await;
    let cookie = &server.guest_cookie("Bob").await;
    let mut bob = server.client_with_cookie(cookie).await;
    let mut alice = server.client().await;
    alice.say("a-1", "before").await;
    let last_seen = bob.next_message().await.seq;
    drop(bob);

    for n in 2..=6 {
        alice.say(&format!("a-{n}"), &format!("missed {n}")).await;
    }
    alice.ack_for("a-6").await;

    let mut bob = server.client_with_cookie(cookie).await;
    let caught_up = bob.join(Some(last_seen)).await;
    let seqs: Vec<u64> = caught_up.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    assert_eq!(caught_up[0].text, "missed 2");

    alice.say("a-7", "live").await;
    let live = bob.next_message().await;
    assert_eq!(
        (live.seq, live.text.as_str()),
        (7, "live"),
        "no duplicate at the seam"
    );
}

#[tokio::test]
async fn messages_published_while_joining_are_neither_lost_nor_doubled() {
    // Forty sends at once are over the default burst; the seam is the point here.
    let server = TestServer::start_with(|config| config.rate_limit_per_sec = 0).await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    // Alice keeps sending while Bob joins from the start, so some messages land in the
    // store before Bob's join and some after: each must reach Bob exactly once, in order.
    for n in 1..=20 {
        alice.say(&format!("a-{n}"), &n.to_string()).await;
    }
    let caught_up = bob.join(Some(0)).await;
    for n in 21..=40 {
        alice.say(&format!("a-{n}"), &n.to_string()).await;
    }
    let mut seqs: Vec<u64> = caught_up.iter().map(|m| m.seq).collect();
    while seqs.len() < 40 {
        seqs.push(bob.next_message().await.seq);
    }
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    bob.assert_nothing_pending().await;
}

#[tokio::test]
async fn a_socket_opened_with_since_resumes_the_lobby_in_order_while_messages_keep_coming() {
    let server = TestServer::start_with(|config| config.rate_limit_per_sec = 0).await;
    let mut alice = server.client().await;
    for n in 1..=20 {
        alice.say(&format!("a-{n}"), &n.to_string()).await;
    }
    alice.ack_for("a-5").await;
    // Opened while Alice's sends are still being stored: the lobby is live from the moment
    // the socket opens, yet nothing live is written before the messages after seq 2.
    let url = format!("{}?since=2", server.ws_url());
    let mut bob = common::Client::connect(&url, None).await;
    for n in 21..=40 {
        alice.say(&format!("a-{n}"), &n.to_string()).await;
    }
    let mut seqs = Vec::new();
    let mut joined = None;
    while seqs.len() < 38 {
        match bob.next_frame().await {
            ServerFrame::Message(message) => seqs.push(message.seq),
            ServerFrame::Joined { room, head } => {
                assert_eq!(room, "lobby");
                joined = Some((seqs.len() as u64, head));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seqs,
        (3..=40).collect::<Vec<_>>(),
        "once each, in seq order"
    );
    let (replayed, head) = joined.expect("joined after the replay");
    assert_eq!(head, 2 + replayed, "joined marks where history ends");
    bob.assert_nothing_pending().await;
}

#[tokio::test]
async fn a_socket_opened_with_a_since_that_is_not_a_seq_is_refused_with_400() {
    let server = TestServer::start().await;
    for since in ["-1", "one", "1.5", ""] {
        let url = format!("{}?since={since}", server.ws_url());
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400, "since={since}");
                let body = String::from_utf8(response.into_body().unwrap_or_default()).unwrap();
                assert!(body.contains("since must be a whole number"), "{body}");
            }
            Ok(_) => panic!("since={since} opened a socket"),
            Err(other) => panic!("since={since}: {other}"),
        }
    }
}

#[tokio::test]
async fn a_client_too_far_behind_is_told_to_resync() {
    let server = TestServer::start_with(|config| config.resume_limit = 3).await;
    let mut alice = server.client().await;
    for n in 1..=5 {
        alice.say(&format!("a-{n}"), "x").await;
    }
    alice.ack_for("a-5").await;
    let mut bob = server.client().await;
    bob.send_frame(&huddle::protocol::ClientFrame::Join {
        room: "lobby".into(),
        since: Some(1),
    })
    .await;
    assert_eq!(
        bob.next_frame().await,
        ServerFrame::Resync {
            room: "lobby".into(),
            head: 5
        }
    );
    // Within the limit, it catches up normally.
    assert_eq!(bob.join(Some(2)).await.len(), 3);
}

#[tokio::test]
async fn history_survives_a_restart() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("a-1", "kept across restarts").await;
    alice.ack_for("a-1").await;
    drop(alice);

    let server = server.restart().await;
    let mut bob = server.client().await;
    let history = bob.join(Some(0)).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "kept across restarts");
    // Seqs continue where they stopped.
    bob.say("b-1", "after").await;
    assert_eq!(bob.ack_for("b-1").await.1, 2);
}

#[tokio::test]
async fn bad_joins_and_sends_get_clear_errors_store_nothing_and_keep_the_connection() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("a-1", "x").await;
    alice.next_message().await;
    alice.ack_for("a-1").await;
    let cases = [
        (
            r#"{"type":"join","room":"lobby","since":99}"#,
            ErrorCode::SeqBeyondHead,
        ),
        (
            r#"{"type":"join","room":"lobby","since":-1}"#,
            ErrorCode::InvalidSeq,
        ),
        (
            r#"{"type":"join","room":"lobby","since":"three"}"#,
            ErrorCode::InvalidSeq,
        ),
        (
            r#"{"type":"join","room":"Attic!","since":0}"#,
            ErrorCode::InvalidRoom,
        ),
        (
            r#"{"type":"send","room":"lobby","text":"no client id"}"#,
            ErrorCode::InvalidFrame,
        ),
        (
            r#"{"type":"send","room":"attic","client_id":"c","text":"x"}"#,
            ErrorCode::UnknownRoom,
        ),
    ];
    for (frame, expected) in cases {
        let (code, message) = alice.refused(frame).await;
        assert_eq!(code, expected, "for {frame}");
        assert!(!message.is_empty());
    }
    assert_eq!(server.stored_messages().await.len(), 1);
    alice.assert_nothing_pending().await;
}

async fn get_history(server: &TestServer, query: &str) -> reqwest::Response {
    reqwest::get(server.url(&format!("/api/rooms/lobby/messages{query}")))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_history_endpoint_pages_backwards() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    for n in 1..=5 {
        alice.say(&format!("a-{n}"), &format!("m{n}")).await;
    }
    alice.ack_for("a-5").await;

    let latest: HistoryPage = get_history(&server, "?limit=2").await.json().await.unwrap();
    assert_eq!(
        latest.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [4, 5]
    );
    assert!(latest.has_more);
    let older: HistoryPage = get_history(&server, "?before=4&limit=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        older.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(!older.has_more);
}

#[tokio::test]
async fn the_history_endpoint_refuses_bad_input_clearly() {
    let server = TestServer::start().await;
    for (query, status, code) in [
        ("?before=abc", 400, "invalid_seq"),
        ("?before=-2", 400, "invalid_seq"),
        ("?limit=0", 400, "invalid_frame"),
        ("?limit=5000", 400, "invalid_frame"),
    ] {
        let response = get_history(&server, query).await;
        assert_eq!(response.status(), status, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{query}");
    }
    let missing = reqwest::get(server.url("/api/rooms/attic/messages"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
