//! Nodes killed under load lose nothing. Three `huddle` processes behind a real nginx
//! (deploy/nginx.conf), one PostgreSQL database and one Redis. Clients on every node send
//! 200 messages a second in all for 30 s. Every 10 s one node is killed with SIGKILL and
//! started again on its port.
//!
//! The clients behave as the page does. They reconnect through nginx to whichever node
//! answers, resume the lobby from the last seq they hold (`/ws?since=`), and resend from
//! their outbox what was not acked, under the same client_id.
//!
//! At the end, every acked message must have reached every client exactly once and in seq
//! order. The report prints sent / acked / delivered / lost / duplicated / reordered.

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::nginx::TestNginx;
use common::postgres::TestDatabase;
use common::redis::TestRedis;
use common::{start_binary_at, Running, PATIENCE};
use futures_util::{SinkExt, StreamExt};
use huddle::protocol::{ClientFrame, ServerFrame};
use huddle::server::store;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const NODES: usize = 3;
const CLIENTS: usize = 6;
const RATE_PER_SEC: u64 = 200;
const LOAD: Duration = Duration::from_secs(30);
const KILL_EVERY: Duration = Duration::from_secs(10);

/// What one client saw.
#[derive(Default)]
struct Tally {
    sent: usize,
    /// client_id → seq, from acks (a resent message's ack carries its original seq).
    acked: HashMap<String, u64>,
    /// Messages as delivered, in arrival order: (seq, client_id).
    delivered: Vec<(u64, String)>,
    reconnects: usize,
}

struct Node {
    addr: String,
    process: Running,
}

async fn start_node(addr: &str, database: &TestDatabase, redis: &TestRedis) -> Running {
    start_binary_at(
        addr,
        Path::new(&database.url),
        &[
            "--redis",
            &redis.url(),
            "--rate-limit-per-sec",
            "0",
            "--redis-presence-ttl-ms",
            "900",
        ],
    )
    .await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_nodes_under_load_loses_duplicates_and_reorders_nothing() {
    let redis = TestRedis::start();
    let database = TestDatabase::create().await;
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let addr = format!("127.0.0.1:{}", free_port());
        let process = start_node(&addr, &database, &redis).await;
        nodes.push(Node { addr, process });
    }
    let upstreams: Vec<_> = nodes.iter().map(|n| n.addr.parse().unwrap()).collect();
    let nginx = Arc::new(TestNginx::start(&upstreams));

    // Once every client's outbox is empty, the orchestrator reads the room's head from the
    // store: each client then runs until it holds everything up to it.
    let (target, target_seen) = watch::channel(None::<u64>);
    let (drained, mut outboxes_drained) = mpsc::unbounded_channel::<usize>();
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let client = run_client(
            c,
            nginx.ws_url(),
            started,
            drained.clone(),
            target_seen.clone(),
        );
        clients.push(tokio::spawn(client));
    }

    // The killer: SIGKILL one node every 10 s, and start it again on its port.
    let mut kills = 0;
    for round in 1..LOAD.as_secs() / KILL_EVERY.as_secs() {
        tokio::time::sleep_until(started + KILL_EVERY * round as u32).await;
        let node = &mut nodes[(round as usize - 1) % NODES];
        node.process.child.kill().await.unwrap();
        kills += 1;
        node.process = start_node(&node.addr, &database, &redis).await;
    }
    tokio::time::sleep_until(started + LOAD).await;

    // Every client's outbox drains: sending has stopped, and each reports once everything it
    // sent is acked. Then nothing more is stored, and the room's head is final.
    for _ in 0..CLIENTS {
        tokio::time::timeout(PATIENCE * 3, outboxes_drained.recv())
            .await
            .expect("every outbox drains")
            .unwrap();
    }
    let stores = store::open(&database.database()).await.unwrap();
    let head = stores
        .messages
        .heads()
        .await
        .unwrap()
        .into_iter()
        .find(|(room, _)| room == "lobby")
        .map_or(0, |(_, head)| head);
    target.send(Some(head)).unwrap();
    let mut tallies = Vec::new();
    for client in clients {
        tallies.push(
            tokio::time::timeout(PATIENCE * 3, client)
                .await
                .expect("every client catches up")
                .unwrap(),
        );
    }
    stores.close().await;

    // The report.
    let sent: usize = tallies.iter().map(|t| t.sent).sum();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for tally in &tallies {
        for (client_id, seq) in &tally.acked {
            let earlier = acked.insert(*seq, client_id.clone());
            assert!(earlier.is_none(), "two messages acked with seq {seq}");
        }
    }
    let (mut delivered, mut lost, mut duplicated, mut reordered) = (0, 0, 0, 0);
    for tally in &tallies {
        delivered += tally.delivered.len();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (seq, _) in &tally.delivered {
            *seen.entry(*seq).or_default() += 1;
        }
        duplicated += seen
            .values()
            .filter(|&&n| n > 1)
            .map(|n| n - 1)
            .sum::<usize>();
        lost += acked.keys().filter(|seq| !seen.contains_key(seq)).count();
        reordered += tally
            .delivered
            .windows(2)
            .filter(|pair| pair[1].0 <= pair[0].0)
            .count();
        for (seq, client_id) in &tally.delivered {
            if let Some(acked_id) = acked.get(seq) {
                assert_eq!(
                    acked_id, client_id,
                    "seq {seq} delivered as another message"
                );
            }
        }
    }
    let reconnects: usize = tallies.iter().map(|t| t.reconnects).sum();
    println!(
        "failover: {CLIENTS} clients, {NODES} nodes, {kills} kill -9, {:.0} s: sent {sent} / acked {} / delivered {delivered} ({} clients x {} messages) / lost {lost} / duplicated {duplicated} / reordered {reordered}; {reconnects} reconnects",
        started.elapsed().as_secs_f64(),
        acked.len(),
        CLIENTS,
        acked.len(),
    );
    assert_eq!(
        acked.len(),
        sent,
        "every message sent was acked in the end, once"
    );
    assert_eq!(
        head as usize, sent,
        "and stored once: the room holds exactly what was sent"
    );
    assert!(
        reconnects >= kills,
        "the kills did cut clients off: {reconnects} reconnects"
    );
    assert_eq!((lost, duplicated, reordered), (0, 0, 0));
    assert_eq!(delivered, CLIENTS * sent);
}

async fn run_client(
    c: usize,
    url: String,
    started: Instant,
    drained: mpsc::UnboundedSender<usize>,
    mut target: watch::Receiver<Option<u64>>,
) -> Tally {
    let mut reported = false;
    let mut tally = Tally::default();
    let mut outbox: VecDeque<(String, String)> = VecDeque::new();
    let period = Duration::from_micros(1_000_000 * CLIENTS as u64 / RATE_PER_SEC);
    let mut ticks = tokio::time::interval_at(started + period * c as u32 / CLIENTS as u32, period);
    let mut next = 0;
    loop {
        let since = tally.delivered.last().map_or(0, |(seq, _)| *seq);
        let resume = format!("{url}?since={since}");
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(resume.as_str()).await else {
            // nginx found no node up yet (all restarting): try again shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let frames = outbox.iter().map(|(client_id, text)| ClientFrame::Send {
            room: "lobby".into(),
            client_id: client_id.clone(),
            text: text.clone(),
        });
        let mut cut = false;
        for frame in frames {
            let json = serde_json::to_string(&frame).unwrap();
            if socket.send(Message::text(json)).await.is_err() {
                cut = true;
                break;
            }
        }
        while !cut {
            if !reported && started.elapsed() >= LOAD && outbox.is_empty() {
                reported = true;
                drained.send(c).unwrap();
            }
            let finished = match *target.borrow() {
                Some(head) => {
                    outbox.is_empty() && tally.delivered.last().is_some_and(|(seq, _)| *seq >= head)
                }
                None => false,
            };
            if finished {
                let _ = socket.close(None).await;
                return tally;
            }
            tokio::select! {
                _ = ticks.tick(), if started.elapsed() < LOAD => {
                    let client_id = format!("c{c}-{next}");
                    next += 1;
                    let text = format!("load {c} {next}");
                    outbox.push_back((client_id.clone(), text.clone()));
                    tally.sent += 1;
                    let frame = ClientFrame::Send { room: "lobby".into(), client_id, text };
                    cut = socket.send(Message::text(serde_json::to_string(&frame).unwrap())).await.is_err();
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        match serde_json::from_str::<ServerFrame>(&text).unwrap() {
                            ServerFrame::Message(message) if message.room == "lobby" => {
                                tally.delivered.push((message.seq, message.client_id));
                            }
                            ServerFrame::Ack { client_id, seq, .. } => {
                                outbox.retain(|(id, _)| *id != client_id);
                                tally.acked.insert(client_id, seq);
                            }
                            ServerFrame::Ping { t } => {
                                let pong = serde_json::to_string(&ClientFrame::Pong { t }).unwrap();
                                cut = socket.send(Message::text(pong)).await.is_err();
                            }
                            ServerFrame::Error { code, message } => {
                                panic!("client {c} refused: {code:?} {message}");
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(_)) => {}
                    // Closed (1012 from a node stopping, or the TCP connection of a killed one).
                    Some(Err(_)) | None => cut = true,
                },
                _ = target.changed() => {}
                // Wakes the loop once sending stops, to report a drained outbox.
                () = tokio::time::sleep_until(started + LOAD), if started.elapsed() < LOAD => {}
            }
        }
        tally.reconnects += 1;
    }
}
