//! Several nodes sharing rooms through a real Redis and history in one real PostgreSQL
//! database: every promise one node makes holds across nodes, and through Redis failing.
//!
//! Each test has its own Redis server (tests/common/redis.rs) and its own PostgreSQL schema,
//! shared by its nodes. Presence keys live 900 ms here (15 s by default), so a sweep of the
//! store for missed messages runs every 300 ms.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::{Cluster, PRESENCE_TTL_MS};
use common::postgres::{OwnServer, TestDatabase};
use common::redis::TestRedis;
use common::{readiness_becomes, Client, TestServer};
use huddle::protocol::{ClientFrame, ErrorCode, ServerFrame, User};
use huddle::server::auth::api_tokens;
use huddle::server::store::{self, Database, NewMessage};
use huddle::server::{AppState, Config};
use leptos::prelude::LeptosOptions;

/// Proves nothing else is queued for any of `clients` (all in the lobby): a marker the first
/// sends must be the next message each of them gets.
async fn nothing_pending(clients: &mut [Client]) {
    clients[0].say("marker", "marker").await;
    for client in clients {
        assert_eq!(
            next_seq(client).await.1,
            "marker",
            "nothing before the marker"
        );
    }
}

/// The next message frame's (seq, client_id), skipping acks.
async fn next_seq(client: &mut Client) -> (u64, String) {
    let message = client.next_message().await;
    (message.seq, message.client_id)
}

/// Reads until a presence frame about `user_id` in `room`, and returns whether it says online.
async fn presence_of(client: &mut Client, room: &str, user_id: &str) -> bool {
    loop {
        match client.next_presence().await {
            ServerFrame::Presence {
                room: r,
                user,
                online,
            } if r == room && user.id == user_id => return online,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_message_sent_on_any_node_reaches_clients_on_every_node_once_and_in_seq_order() {
    let cluster = Cluster::start(3).await;
    let mut clients = Vec::new();
    for node in &cluster.nodes {
        clients.push(node.client().await);
    }
    for (turn, client) in clients.iter_mut().enumerate() {
        client.say(&format!("from-node-{turn}"), "hello").await;
    }
    for client in &mut clients {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next_seq(client).await);
        }
        let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [1, 2, 3], "every node delivers in seq order: {got:?}");
        let senders: BTreeSet<&str> = got.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(senders.len(), 3, "each message once: {got:?}");
    }
    nothing_pending(&mut clients).await;
    // Every node's history agrees.
    for node in &cluster.nodes {
        assert_eq!(
            node.stored_messages().await.len(),
            4,
            "three and the marker"
        );
    }
}

#[tokio::test]
async fn concurrent_senders_on_two_nodes_reach_every_reader_gap_free_and_once() {
    const EACH: usize = 60;
    let cluster = Cluster::start(2).await;
    let mut readers = vec![
        cluster.nodes[0].client().await,
        cluster.nodes[1].client().await,
    ];
    let mut senders = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        for s in 0..2 {
            let client = node.client().await;
            senders.push(tokio::spawn(async move {
                let mut client = client;
                for i in 0..EACH {
                    client.say(&format!("n{n}-s{s}-{i}"), "burst").await;
                }
                // Every send is acked (after its commit), whichever node took it.
                for i in 0..EACH {
                    client.ack_for(&format!("n{n}-s{s}-{i}")).await;
                }
            }));
        }
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let total = EACH * 4;
    for reader in &mut readers {
        let mut seqs = Vec::new();
        let mut ids = BTreeSet::new();
        for _ in 0..total {
            let (seq, id) = next_seq(reader).await;
            seqs.push(seq);
            ids.insert(id);
        }
        let expected: Vec<u64> = (1..=total as u64).collect();
        assert_eq!(seqs, expected, "no gap, no reorder, no duplicate");
        assert_eq!(ids.len(), total);
    }
    nothing_pending(&mut readers).await;
}

#[tokio::test]
async fn presence_and_typing_cross_nodes_and_sessions_work_on_any_node() {
    let cluster = Cluster::start(2).await;
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let mut ada = one.client_with_cookie(&one.guest_cookie("Ada").await).await;
    // A session made on one node is valid on the other: they share its signing key.
    let bob_cookie = one.guest_cookie("Bob").await;
    let mut bob = two.client_with_cookie(&bob_cookie).await;
    assert_eq!(bob.me.name, "Bob");
    assert!(
        presence_of(&mut ada, "lobby", &bob.me.id).await,
        "Bob came online"
    );

    // Someone joining later, on Ada's node, is told Bob (on the other node) is here.
    let mut cy = one.client_with_cookie(&one.guest_cookie("Cy").await).await;
    cy.join_room("lobby", None).await;
    let online = loop {
        if let ServerFrame::Members { room, online } = cy.next_presence().await {
            if room == "lobby" {
                break online;
            }
        }
    };
    let names: BTreeSet<&str> = online.iter().map(|user| user.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["Ada", "Bob", "Cy"]));

    bob.send_frame(&ClientFrame::Typing {
        room: "lobby".into(),
    })
    .await;
    let typist = loop {
        if let ServerFrame::Typing { user, .. } = ada.next_presence().await {
            break user;
        }
    };
    assert_eq!(typist, bob.me);

    // Bob's second device on Ada's node: still one person online, nobody is told again.
    // When his first device leaves, he is still online (on the other node).
    let mut bob_phone = one.client_with_cookie(&bob_cookie).await;
    let bob_id = bob.me.id.clone();
    drop(bob);
    bob_phone.say("phone", "still here").await;
    assert_eq!(next_seq(&mut ada).await.1, "phone");
    let about_bob: Vec<ServerFrame> = ada
        .presence
        .drain(..)
        .filter(|frame| matches!(frame, ServerFrame::Presence { user, .. } if user.name == "Bob"))
        .collect();
    assert!(
        about_bob.is_empty(),
        "Bob never went offline: {about_bob:?}"
    );
    drop(bob_phone);
    assert!(
        !presence_of(&mut ada, "lobby", &bob_id).await,
        "his last device left: offline"
    );
}

#[tokio::test]
async fn dms_notices_and_logout_reach_a_person_on_every_node() {
    let cluster = Cluster::start(2).await;
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let grace_cookie = one.account_cookie("Grace", "correct horse battery").await;
    let mut grace_here = one.client_with_cookie(&grace_cookie).await;
    let mut grace_there = two.client_with_cookie(&grace_cookie).await;
    let mut ada = one.client_with_cookie(&one.guest_cookie("Ada").await).await;

    // A DM opened on one node appears on the other node's socket, and carries messages.
    ada.send_frame(&ClientFrame::OpenDm {
        user: grace_here.me.id.clone(),
    })
    .await;
    let room = match ada.next_frame().await {
        ServerFrame::RoomAdded { room } => room.name,
        other => panic!("expected room_added, got {other:?}"),
    };
    for grace in [&mut grace_here, &mut grace_there] {
        match grace.next_frame().await {
            ServerFrame::RoomAdded { room: added } => assert_eq!(added.name, room),
            other => panic!("expected room_added, got {other:?}"),
        }
    }
    grace_there.join_room(&room, Some(0)).await;
    ada.join_room(&room, Some(0)).await;
    ada.say_in(&room, "dm-1", "across nodes").await;
    assert_eq!(grace_there.next_message().await.text, "across nodes");
    assert_eq!(ada.next_message().await.client_id, "dm-1", "her own copy");

    // A notice pushed to one node reaches the person's sockets on both.
    let token = api_tokens::create(one.state.tokens.as_ref(), "pager")
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(one.url("/api/notify"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "paged", "user": grace_here.me.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    for grace in [&mut grace_here, &mut grace_there] {
        match grace.next_frame().await {
            ServerFrame::Notice { text, .. } => assert_eq!(text, "paged"),
            other => panic!("expected the notice, got {other:?}"),
        }
    }

    // Logging out on the other node closes her sockets on both.
    let response = reqwest::Client::new()
        .post(two.url("/api/logout"))
        .header("cookie", &grace_cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    for grace in [&mut grace_here, &mut grace_there] {
        let close = grace.close_frame().await;
        assert_eq!(
            u16::from(close.code),
            huddle::protocol::close_code::LOGGED_OUT
        );
    }
    ada.say("still", "here").await;
    assert_eq!(ada.next_message().await.client_id, "still");
}

#[tokio::test]
async fn a_message_whose_publication_never_came_is_caught_up_from_the_store() {
    let cluster = Cluster::start(2).await;
    let mut watchers = vec![
        cluster.nodes[0].client().await,
        cluster.nodes[1].client().await,
    ];
    // Stored by a writer that publishes nothing: as if Redis had dropped its publication.
    let stores = store::open(&cluster.database.database()).await.unwrap();
    let writer = User {
        id: "u-batch".into(),
        name: "Batch job".into(),
    };
    let outcome = stores
        .messages
        .append(vec![NewMessage::new(
            "lobby".into(),
            Some("silent-1".into()),
            writer,
            "silent".into(),
        )])
        .await
        .unwrap();
    assert_eq!(outcome.len(), 1);
    for watcher in &mut watchers {
        assert_eq!(next_seq(watcher).await, (1, "silent-1".to_owned()));
    }
    // And what follows comes in order after it.
    watchers[1].say("next", "after").await;
    for watcher in &mut watchers {
        assert_eq!(next_seq(watcher).await, (2, "next".to_owned()));
    }
    stores.close().await;
}

#[tokio::test]
async fn messages_sent_while_a_node_was_unsubscribed_arrive_in_order() {
    let cluster = Cluster::start(2).await;
    let mut sender = cluster.nodes[0].client().await;
    let mut reader = cluster.nodes[1].client().await;
    sender.say("before", "one").await;
    assert_eq!(next_seq(&mut reader).await.0, 1);
    // Every node loses its subscription (Redis evicting pub/sub clients, a network blip).
    cluster
        .redis
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
        .await;
    for i in 0..20 {
        sender.say(&format!("during-{i}"), "lost?").await;
    }
    let seqs: Vec<u64> = {
        let mut seqs = Vec::new();
        for _ in 0..20 {
            seqs.push(next_seq(&mut reader).await.0);
        }
        seqs
    };
    assert_eq!(seqs, (2..=21).collect::<Vec<u64>>());
    reader.assert_nothing_pending().await;
}

#[tokio::test]
async fn redis_restarting_mid_conversation_loses_no_acked_message_and_presence_recovers() {
    let mut cluster = Cluster::start(2).await;
    let mut ada = cluster.nodes[0].client().await;
    let mut bob = cluster.nodes[1].client().await;
    ada.say("a1", "before").await;
    assert_eq!(next_seq(&mut bob).await, (1, "a1".into()));

    cluster.redis.restart();
    // Sends during and right after the restart are acked (stored) and delivered.
    for i in 0..10 {
        ada.say(&format!("during-{i}"), "x").await;
    }
    for i in 0..10 {
        ada.ack_for(&format!("during-{i}")).await;
    }
    for seq in 2..=11 {
        assert_eq!(next_seq(&mut bob).await.0, seq);
    }
    bob.say("b1", "back").await;
    assert_eq!(next_seq(&mut ada).await, (12, "b1".into()));

    // Presence works again: someone arriving on Bob's node is seen on Ada's.
    let cy = cluster.nodes[1]
        .client_with_cookie(&cluster.nodes[1].guest_cookie("Cy").await)
        .await;
    assert!(presence_of(&mut ada, "lobby", &cy.me.id).await);
}

#[tokio::test]
async fn a_node_without_redis_keeps_storing_and_says_so_in_readyz_until_redis_is_back() {
    let mut cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0];
    let ready = readiness_becomes(node, 200).await;
    assert_eq!(ready["redis"]["ok"], true, "{ready}");

    cluster.redis.kill();
    let node = &cluster.nodes[0];
    let not_ready = readiness_becomes(node, 503).await;
    assert_eq!(not_ready["redis"]["ok"], false, "{not_ready}");
    assert_eq!(
        not_ready["database"]["ok"], true,
        "only Redis is gone: {not_ready}"
    );
    let error = not_ready["redis"]["error"].as_str().unwrap();
    assert!(
        error.contains("Redis does not answer") || error.contains("not subscribed"),
        "{error}"
    );
    // It keeps serving what it can: a send is stored and acked.
    let mut ada = node.client().await;
    ada.say("alone", "stored without Redis").await;
    assert_eq!(ada.ack_for("alone").await.1, 1);

    cluster.redis.restart();
    let ready = readiness_becomes(&cluster.nodes[0], 200).await;
    assert_eq!(ready["redis"]["ok"], true, "{ready}");
}

#[tokio::test]
async fn a_killed_nodes_people_go_offline_on_the_others_within_the_documented_bound() {
    let cluster = Cluster::start(1).await;
    let one = &cluster.nodes[0];
    let mut ada = one.client_with_cookie(&one.guest_cookie("Ada").await).await;
    let ttl = PRESENCE_TTL_MS.to_string();
    let mut doomed = common::start_binary_with(
        std::path::Path::new(&cluster.database.url),
        &[
            "--redis",
            &cluster.redis.url(),
            "--redis-presence-ttl-ms",
            &ttl,
        ],
    )
    .await;
    let bob = Client::connect(&doomed.ws_url(), Some(&one.guest_cookie("Bob").await)).await;
    assert!(presence_of(&mut ada, "lobby", &bob.me.id).await);

    // kill -9: no goodbye, no key removed; only its presence key's TTL tells.
    doomed.child.kill().await.unwrap();
    let killed = Instant::now();
    assert!(!presence_of(&mut ada, "lobby", &bob.me.id).await);
    let took = killed.elapsed();
    // The bound docs/deploy.md gives: the TTL, plus two refresh periods of a third of it.
    let bound = Duration::from_millis(PRESENCE_TTL_MS + 2 * PRESENCE_TTL_MS / 3);
    println!("a killed node's person went offline after {took:?} (bound {bound:?})");
    assert!(
        took <= bound + Duration::from_millis(300),
        "{took:?} > {bound:?}"
    );
}

#[tokio::test]
async fn a_node_that_cannot_reach_redis_does_not_start_and_says_where_it_looked() {
    let database = TestDatabase::create().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = Config::with_database(database.database());
    config.redis = Some(
        format!("redis://:s3cret@127.0.0.1:{port}/")
            .parse()
            .unwrap(),
    );
    let options = LeptosOptions::builder().output_name("huddle").build();
    let err = AppState::new(config, options)
        .await
        .err()
        .expect("no Redis: no server");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "cannot reach Redis at redis://:***@127.0.0.1:{port}/"
        )),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");

    // The binary exits 1 with that one line.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", "127.0.0.1:0", "--database", &database.url])
        .args(["--redis", &format!("redis://127.0.0.1:{port}/")])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach Redis at redis://127.0.0.1:"),
        "{stderr}"
    );
}

#[tokio::test]
async fn several_nodes_need_one_shared_postgresql_database() {
    let redis = TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_database(dir.path().join("huddle.db"));
    config.redis = Some(redis.url().parse().unwrap());
    let options = LeptosOptions::builder().output_name("huddle").build();
    let err = AppState::new(config, options).await.err().expect("refused");
    assert!(
        err.to_string().contains("same PostgreSQL --database"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarting_refuses_sends_retryably_and_the_outbox_stores_each_once() {
    let postgres = tokio::task::spawn_blocking(OwnServer::start).await.unwrap();
    let redis = TestRedis::start();
    let database: Database = postgres.url.parse().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        nodes.push(TestServer::start_node_on(database.clone(), &redis.url(), |_| {}).await);
    }
    let mut ada = nodes[0].client().await;
    let mut bob = nodes[1].client().await;
    ada.say("m1", "before").await;
    assert_eq!(ada.ack_for("m1").await.1, 1);
    assert_eq!(next_seq(&mut bob).await, (1, "m1".into()));

    let postgres = Arc::new(postgres);
    let halted = postgres.clone();
    tokio::task::spawn_blocking(move || halted.halt())
        .await
        .unwrap();
    let not_ready = readiness_becomes(&nodes[0], 503).await;
    assert_eq!(not_ready["database"]["ok"], false, "{not_ready}");
    // Sent while the database is down: each is acked late or refused as retryable, never
    // lost in silence.
    let outbox: Vec<&str> = vec!["m2", "m3"];
    for client_id in &outbox {
        ada.say(client_id, "during").await;
    }
    let mut refused = Vec::new();
    while refused.len() < outbox.len() {
        match ada.next_frame().await {
            ServerFrame::Error { code, message } => {
                assert_eq!(code, ErrorCode::StoreUnavailable, "{message}");
                let id = outbox
                    .iter()
                    .find(|id| message.contains(&format!("{id:?}")))
                    .unwrap_or_else(|| panic!("the refusal names its client_id: {message}"));
                refused.push(*id);
            }
            ServerFrame::Ack { client_id, .. } => panic!("{client_id} acked with no database"),
            _ => {}
        }
    }
    let resumed = postgres.clone();
    tokio::task::spawn_blocking(move || resumed.resume())
        .await
        .unwrap();
    for node in &nodes {
        let ready = readiness_becomes(node, 200).await;
        assert_eq!(ready["database"]["ok"], true, "{ready}");
    }
    // The outbox resends both, each twice (as a client unsure of its first resend would),
    // until both are acked: each is stored once, with one seq. Every send is answered once,
    // with an ack or a refusal (the pool may still be reconnecting).
    let mut seqs: BTreeMap<String, u64> = BTreeMap::new();
    while seqs.len() < outbox.len() {
        let pending: Vec<&str> = outbox
            .iter()
            .copied()
            .filter(|id| !seqs.contains_key(*id))
            .collect();
        for client_id in pending.iter().chain(&pending) {
            ada.say(client_id, "during").await;
        }
        let mut answers = 0;
        while answers < pending.len() * 2 {
            match ada.next_frame().await {
                ServerFrame::Ack { client_id, seq, .. } => {
                    answers += 1;
                    let first = *seqs.entry(client_id).or_insert(seq);
                    assert_eq!(first, seq, "a resend is acked with the original seq");
                }
                ServerFrame::Error { code, message } => {
                    assert_eq!(code, ErrorCode::StoreUnavailable, "{message}");
                    answers += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(seqs.values().copied().collect::<Vec<u64>>(), [2, 3]);
    assert_eq!(next_seq(&mut bob).await, (2, "m2".into()));
    assert_eq!(next_seq(&mut bob).await, (3, "m3".into()));
    let stored = nodes[1].stored_messages().await;
    assert_eq!(stored.len(), 3, "each message once");
    for node in &mut nodes {
        node.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_node_stopping_cleanly_takes_its_people_offline_at_once() {
    // The default TTL (15 s): a node missed twice would take 10 s or more, beyond the
    // patience of `presence_of`. Only the node's own goodbye is that fast.
    let redis = TestRedis::start();
    let database = Arc::new(TestDatabase::create().await);
    let staying = TestServer::start_node(&database, &redis.url(), |_| {}).await;
    let mut leaving = TestServer::start_node(&database, &redis.url(), |_| {}).await;
    let mut ada = staying
        .client_with_cookie(&staying.guest_cookie("Ada").await)
        .await;
    let bob = leaving
        .client_with_cookie(&staying.guest_cookie("Bob").await)
        .await;
    assert!(presence_of(&mut ada, "lobby", &bob.me.id).await);
    leaving.shutdown().await.unwrap();
    assert!(!presence_of(&mut ada, "lobby", &bob.me.id).await);
}
