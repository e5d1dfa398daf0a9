//! Persistence benchmark: durable messages per second and ack latency, group commit against
//! one-transaction-per-message in the same run, on a real SQLite file (WAL, synchronous=FULL)
//! or, with `HUDDLE_BENCH_STORE=postgres`, on PostgreSQL (the server the tests use, each run
//! in a fresh schema of its own, dropped afterwards).
//!
//! Run: `scripts/bench-persistence.sh` (SQLite) or `scripts/bench-persistence.sh --postgres`
//! (a throwaway local server, scripts/postgres.sh). Figures are printed; nothing here asserts
//! a number.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use huddle::protocol::{ServerFrame, User};
use huddle::server::broker::LocalBroker;
use huddle::server::history::committer::Committer;
use huddle::server::hub::fanout::Hub;
use huddle::server::hub::registry::ConnectionRegistry;
use huddle::server::store::{self, Database, NewMessage, Store};
use huddle::server::{serve, AppState, Config};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// Messages per throughput run.
const THROUGHPUT_MESSAGES: usize = 100_000;
/// Concurrent submitters: like that many chat connections sending at once.
const SUBMITTERS: usize = 256;
/// Open-loop rate and duration of the latency runs.
const LATENCY_RATE_PER_SEC: u64 = 1_000;
const LATENCY_SECONDS: u64 = 10;

fn message(n: usize) -> NewMessage {
    NewMessage {
        room: "lobby".into(),
        id: format!("bench-{n}"),
        client_id: format!("c-{n}"),
        user: User {
            id: format!("u-{}", n % SUBMITTERS),
            name: "Bench".into(),
        },
        text: "a typical chat message of about sixty bytes, give or take".into(),
        ts: 0,
    }
}

/// The tests' throwaway PostgreSQL databases: a schema each, dropped when it is dropped.
#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)] // the tests' switch between engines; the bench has its own
mod postgres;

/// Where the runs keep their history.
enum Engine {
    /// A SQLite file per run in this directory.
    Sqlite(tempfile::TempDir),
    /// A schema per run on the server at `HUDDLE_TEST_POSTGRES` (or scripts/postgres.sh's),
    /// kept until the benchmark ends.
    Postgres(std::sync::Mutex<Vec<postgres::TestDatabase>>),
}

impl Engine {
    fn from_env() -> Engine {
        if std::env::var("HUDDLE_BENCH_STORE").is_ok_and(|store| store == "postgres") {
            Engine::Postgres(Default::default())
        } else {
            Engine::Sqlite(tempfile::tempdir().unwrap())
        }
    }

    fn describe(&self) -> String {
        match self {
            Engine::Sqlite(dir) => format!(
                "SQLite WAL, synchronous=FULL, files in {}",
                dir.path().display()
            ),
            Engine::Postgres(_) => format!(
                "PostgreSQL at {}, a schema per run",
                Database::Postgres(postgres::admin_url().to_owned())
            ),
        }
    }

    /// A fresh, empty database for the run called `name`.
    async fn database(&self, name: &str) -> Database {
        match self {
            Engine::Sqlite(dir) => Database::Sqlite(dir.path().join(format!("{name}.db"))),
            Engine::Postgres(made) => {
                let database = postgres::TestDatabase::create().await;
                let named = database.database();
                made.lock().unwrap().push(database);
                named
            }
        }
    }

    /// Whether the engine lets several writers commit at once: SQLite serializes them, so
    /// its per-message peer takes turns; PostgreSQL's per-message peer commits concurrently,
    /// as a plain server would (the room's counter row orders their seqs).
    fn serializes_writers(&self) -> bool {
        matches!(self, Engine::Sqlite(_))
    }
}

async fn fresh_store(engine: &Engine, name: &str) -> Arc<dyn Store> {
    let database = engine.database(name).await;
    store::open(&database).await.unwrap().messages
}

/// Wraps a store to count batches and the time spent storing them.
struct Counting {
    inner: Arc<dyn Store>,
    batches: std::sync::atomic::AtomicU64,
    micros: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl Store for Counting {
    async fn append(
        &self,
        batch: Vec<NewMessage>,
    ) -> Result<Vec<huddle::server::store::Appended>, huddle::server::store::StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let start = Instant::now();
        let result = self.inner.append(batch).await;
        self.batches.fetch_add(1, Relaxed);
        self.micros
            .fetch_add(start.elapsed().as_micros() as u64, Relaxed);
        result
    }
    async fn heads(&self) -> Result<Vec<(String, u64)>, huddle::server::store::StoreError> {
        self.inner.heads().await
    }
    async fn head(&self, room: &str) -> Result<u64, huddle::server::store::StoreError> {
        self.inner.head(room).await
    }
    async fn ping(&self) -> Result<(), huddle::server::store::StoreError> {
        self.inner.ping().await
    }
    async fn probe_write(&self) -> Result<(), huddle::server::store::StoreError> {
        self.inner.probe_write().await
    }
    async fn range(
        &self,
        room: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<huddle::protocol::ChatMessage>, huddle::server::store::StoreError> {
        self.inner.range(room, after, up_to).await
    }
    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<huddle::protocol::HistoryPage, huddle::server::store::StoreError> {
        self.inner.page(room, before, limit).await
    }
}

/// Group commit: `SUBMITTERS` tasks share `THROUGHPUT_MESSAGES` through the committer.
async fn group_commit_throughput(engine: &Engine) -> f64 {
    let store = Arc::new(Counting {
        inner: fresh_store(engine, "group").await,
        batches: Default::default(),
        micros: Default::default(),
    });
    let hub = Arc::new(Hub::new(&[]));
    let (committer, _thread) =
        Committer::start(store.clone(), local_broker(hub)).expect("starting the committer");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..SUBMITTERS {
        let committer = committer.clone();
        tasks.push(tokio::spawn(async move {
            for n in (s..THROUGHPUT_MESSAGES).step_by(SUBMITTERS) {
                committer.submit(message(n)).await.outcome().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed();
    let batches = store.batches.load(std::sync::atomic::Ordering::Relaxed);
    let micros = store.micros.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "group commit: {batches} transactions, {:.0} messages each on average, {:.2} ms each, {:.0}% of the run inside them",
        THROUGHPUT_MESSAGES as f64 / batches as f64,
        micros as f64 / batches as f64 / 1000.0,
        micros as f64 / elapsed.as_micros() as f64 * 100.0
    );
    THROUGHPUT_MESSAGES as f64 / elapsed.as_secs_f64()
}

/// The peer: the same store, one transaction (and one fsync) per message, same concurrency.
async fn per_message_throughput(engine: &Engine, messages: usize) -> f64 {
    let store = fresh_store(engine, "single").await;
    // On SQLite, one writer at a time, as SQLite itself would serialize the writers anyway.
    let serialize = engine.serializes_writers();
    let writer = Arc::new(tokio::sync::Mutex::new(()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..SUBMITTERS {
        let (store, writer) = (store.clone(), writer.clone());
        tasks.push(tokio::spawn(async move {
            for n in (s..messages).step_by(SUBMITTERS) {
                let _turn = if serialize {
                    Some(writer.lock().await)
                } else {
                    None
                };
                store.append(vec![message(n)]).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

/// Open loop at a fixed rate: latency from each message's intended send time to its ack, so
/// a stall is charged to every message it delays (no coordinated omission).
async fn committer_ack_latency(engine: &Engine) -> Histogram<u64> {
    let store = fresh_store(engine, "latency").await;
    let hub = Arc::new(Hub::new(&[]));
    let (committer, _thread) =
        Committer::start(store, local_broker(hub)).expect("starting the committer");
    let histogram = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let total = (LATENCY_RATE_PER_SEC * LATENCY_SECONDS) as usize;
    let interval = Duration::from_nanos(1_000_000_000 / LATENCY_RATE_PER_SEC);
    let start = tokio::time::Instant::now();
    let in_flight = Arc::new(Semaphore::new(10_000));
    for n in 0..total {
        let intended = start + interval * n as u32;
        tokio::time::sleep_until(intended).await;
        let pending = committer.submit(message(n)).await;
        let histogram = histogram.clone();
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        tokio::spawn(async move {
            pending.outcome().await.unwrap();
            let micros = (tokio::time::Instant::now() - intended).as_micros() as u64;
            histogram.lock().unwrap().record(micros.max(1)).unwrap();
            drop(permit);
        });
    }
    let _all = in_flight.acquire_many(10_000).await.unwrap();
    let histogram = histogram.lock().unwrap().clone();
    histogram
}

/// The same open loop through the whole server: a WebSocket client sends, the ack comes
/// back over the socket after the commit.
async fn websocket_ack_latency(engine: &Engine) -> Histogram<u64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::with_database(engine.database("server").await);
    // One client at 1,000 messages/s: far past the per-connection limit meant for people.
    config.rate_limit_per_sec = 0;
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("huddle")
        .build();
    let state = AppState::new(config, options).await.unwrap();
    tokio::spawn(serve(listener, state, std::future::pending()));
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let (mut sink, mut stream) = socket.split();

    let total = (LATENCY_RATE_PER_SEC * LATENCY_SECONDS) as usize;
    let interval = Duration::from_nanos(1_000_000_000 / LATENCY_RATE_PER_SEC);
    let start = tokio::time::Instant::now();
    let reader = tokio::spawn(async move {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        while histogram.len() < total as u64 {
            let Some(Ok(Message::Text(text))) = stream.next().await else {
                break;
            };
            match serde_json::from_str(text.as_str()) {
                Ok(ServerFrame::Ack { client_id, .. }) => {
                    let n: u32 = client_id.trim_start_matches("c-").parse().unwrap();
                    let intended = start + interval * n;
                    let micros = (tokio::time::Instant::now() - intended).as_micros() as u64;
                    histogram.record(micros.max(1)).unwrap();
                }
                // A refused send would make the figures a sample of the lucky ones.
                Ok(ServerFrame::Error { code, message }) => {
                    panic!("the server refused a probe ({code:?}): {message}")
                }
                _ => {}
            }
        }
        histogram
    });
    for n in 0..total {
        tokio::time::sleep_until(start + interval * n as u32).await;
        let frame = format!(
            r#"{{"type":"send","room":"lobby","client_id":"c-{n}","text":"latency probe"}}"#
        );
        sink.send(Message::text(frame)).await.unwrap();
    }
    let histogram = reader.await.unwrap();
    assert_eq!(histogram.len(), total as u64, "every probe must be acked");
    histogram
}

fn percentiles(h: &Histogram<u64>) -> String {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} acks)",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0,
        h.len()
    )
}

#[tokio::main]
async fn main() {
    let engine = Engine::from_env();
    println!("Huddle persistence benchmark — {}", engine.describe());
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let group = group_commit_throughput(&engine).await;
    // The peer is far slower; a tenth of the messages gives a stable rate in reasonable time.
    let single = per_message_throughput(&engine, THROUGHPUT_MESSAGES / 10).await;
    println!();
    println!("| durable throughput, {SUBMITTERS} concurrent senders | messages/s |");
    println!("|---|---|");
    println!("| Huddle group commit | {group:.0} |");
    println!("| one transaction per message (peer) | {single:.0} |");
    println!("| ratio | {:.1}× |", group / single);

    let committer = committer_ack_latency(&engine).await;
    let websocket = websocket_ack_latency(&engine).await;
    println!();
    println!(
        "ack latency at {LATENCY_RATE_PER_SEC} messages/s for {LATENCY_SECONDS} s, open loop:"
    );
    println!(
        "  committer (submit → commit → ack): {}",
        percentiles(&committer)
    );
    println!(
        "  websocket (send frame → ack frame): {}",
        percentiles(&websocket)
    );
}

/// The committer publishes through the in-process broker, as the server does.
fn local_broker(hub: Arc<Hub>) -> Arc<LocalBroker> {
    Arc::new(LocalBroker::new(hub, Arc::new(ConnectionRegistry::new())))
}
