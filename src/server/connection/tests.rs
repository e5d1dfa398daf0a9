//! The connection task's loop, driven over in-memory channels instead of a network socket:
//! the client end of each channel is the test. The rest is the real server core (hub,
//! committer, a SQLite file in a temporary directory).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, Stream};
use leptos::prelude::LeptosOptions;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;
use tungstenite::{Message, Utf8Bytes};

use crate::protocol::{close_code, ChatMessage, ErrorCode, ServerFrame, User};
use crate::server::config::Config;
use crate::server::connection::task::ConnectionTask;
use crate::server::state::{AppState, Core};
use crate::server::transport::chat_socket::{ChatSocket, EncodedBatch};

/// Frames a client's end holds unread unless a test says otherwise: more than any test
/// sends, so only the slow-consumer test ever fills it.
const ROOMY: usize = 1_024;

/// The server's end of an in-memory connection. Writes wait while the client's end is full,
/// as writes to a client that stopped reading do.
struct MemorySocket {
    from_client: mpsc::Receiver<Message>,
    to_client: PollSender<Message>,
}

impl Stream for MemorySocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.from_client
            .poll_recv(cx)
            .map(|message| message.map(Ok))
    }
}

impl Sink<Message> for MemorySocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_client.poll_reserve(cx).map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.to_client.send_item(item).map_err(axum::Error::new)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_client.close();
        Poll::Ready(Ok(()))
    }
}

impl ChatSocket for MemorySocket {
    async fn write_encoded<B: EncodedBatch + Sync>(
        &mut self,
        batch: &VecDeque<B>,
    ) -> Result<(), axum::Error> {
        for delivery in batch {
            for index in delivery.unsent()..delivery.frame_count() {
                let text = Utf8Bytes::from(delivery.frame(index).as_str().to_owned());
                self.send(Message::Text(text)).await?;
            }
        }
        Ok(())
    }
}

/// Longest wait for the task's next frame: a task that never sends what a test awaits fails
/// the test instead of hanging it.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The test's end of one connection.
struct Client {
    to_server: mpsc::Sender<Message>,
    from_server: mpsc::Receiver<Message>,
}

impl Client {
    async fn recv(&mut self) -> Option<Message> {
        tokio::time::timeout(PATIENCE, self.from_server.recv())
            .await
            .expect("the connection task sent nothing more in time")
    }

    async fn send(&self, json: &str) {
        self.to_server
            .send(Message::Text(Utf8Bytes::from(json.to_owned())))
            .await
            .expect("the task stopped reading");
    }

    /// The next JSON frame, past WebSocket pings and others' comings and goings (presence,
    /// which no test here is about).
    async fn frame(&mut self) -> ServerFrame {
        loop {
            match self.recv().await {
                Some(Message::Text(text)) => {
                    match serde_json::from_str(text.as_str()).expect("a server frame") {
                        ServerFrame::Presence { .. } => continue,
                        frame => return frame,
                    }
                }
                Some(Message::Ping(_)) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// The code of the close frame that ends the connection, past every other frame.
    async fn close_code(&mut self) -> u16 {
        loop {
            match self.recv().await {
                Some(Message::Close(Some(frame))) => return frame.code.into(),
                Some(_) => continue,
                None => panic!("the connection ended without a close frame"),
            }
        }
    }

    async fn message(&mut self) -> ChatMessage {
        match self.frame().await {
            ServerFrame::Message(message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn core(tweak: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Arc<Core>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_database(dir.path().join("huddle.db"));
    tweak(&mut config);
    let options = LeptosOptions::builder().output_name("huddle").build();
    let state = AppState::new(config, options).await.unwrap();
    (dir, state.core)
}

/// Starts a connection task for `name` and reads its welcome.
async fn connect(core: &Arc<Core>, name: &str, unread_room: usize) -> Client {
    open(core, name, unread_room, None).await
}

/// Starts a connection task for `name` as `/ws?since=` does (`lobby_since`), and reads its
/// welcome.
async fn open(
    core: &Arc<Core>,
    name: &str,
    unread_room: usize,
    lobby_since: Option<u64>,
) -> Client {
    let (to_server, from_client) = mpsc::channel(ROOMY);
    let (to_client, from_server) = mpsc::channel(unread_room);
    let task = ConnectionTask {
        id: core.next_connection_id(),
        session: None,
        client: None,
        user: Arc::new(User {
            id: format!("id-{name}"),
            name: name.to_owned(),
        }),
        lobby_since,
        _admission: Default::default(),
        _guard: core.shutdown.guard(),
        core: core.clone(),
        tcp: None,
    };
    tokio::spawn(task.run(MemorySocket {
        from_client,
        to_client: PollSender::new(to_client),
    }));
    let mut client = Client {
        to_server,
        from_server,
    };
    if unread_room > 1 {
        assert!(matches!(client.frame().await, ServerFrame::Welcome { .. }));
    }
    client
}

fn send(client_id: &str, text: &str) -> String {
    format!(r#"{{"type":"send","room":"lobby","client_id":"{client_id}","text":"{text}"}}"#)
}

#[tokio::test]
async fn a_join_answers_joined_with_the_head_then_who_is_online() {
    let (_dir, core) = core(|_| {}).await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    ada.send(r#"{"type":"join","room":"kitchen"}"#).await;
    assert_eq!(
        ada.frame().await,
        ServerFrame::Joined {
            room: "kitchen".into(),
            head: 0
        }
    );
    match ada.frame().await {
        ServerFrame::Members { room, online } => {
            assert_eq!(room, "kitchen");
            assert_eq!(
                online.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
                ["Ada"]
            );
        }
        other => panic!("expected members, got {other:?}"),
    }
}

#[tokio::test]
async fn a_send_is_delivered_to_the_sender_then_acked_with_its_seq() {
    let (_dir, core) = core(|_| {}).await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    let mut bob = connect(&core, "Bob", ROOMY).await;
    ada.send(&send("c-1", "hello")).await;
    let own = ada.message().await;
    assert_eq!((own.seq, own.text.as_str()), (1, "hello"));
    match ada.frame().await {
        ServerFrame::Ack { client_id, seq, .. } => {
            assert_eq!((client_id.as_str(), seq), ("c-1", 1))
        }
        other => panic!("expected the ack, got {other:?}"),
    }
    let seen = bob.message().await;
    assert_eq!((seen.seq, seen.client_id.as_str()), (1, "c-1"));
}

#[tokio::test]
async fn a_join_since_a_seq_replays_what_was_missed_in_order_then_joined() {
    let (_dir, core) = core(|_| {}).await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    for n in 1..=3 {
        ada.send(&send(&format!("c-{n}"), &format!("m{n}"))).await;
        ada.message().await;
        assert!(matches!(ada.frame().await, ServerFrame::Ack { .. }));
    }
    let mut bob = connect(&core, "Bob", ROOMY).await;
    bob.send(r#"{"type":"join","room":"lobby","since":1}"#)
        .await;
    let replayed = [bob.message().await, bob.message().await];
    assert_eq!(
        replayed.map(|m| (m.seq, m.text)),
        [(2, "m2".into()), (3, "m3".into())]
    );
    assert_eq!(
        bob.frame().await,
        ServerFrame::Joined {
            room: "lobby".into(),
            head: 3
        }
    );
}

/// Sends `count` messages from a client of its own and awaits their acks.
async fn post(core: &Arc<Core>, count: u64) {
    // Client ids differ from call to call: a repeated one would be deduplicated, not stored.
    static POSTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut poster = connect(core, "Poster", ROOMY).await;
    for _ in 0..count {
        let n = POSTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        poster.send(&send(&format!("p-{n}"), "posted")).await;
        loop {
            if let ServerFrame::Ack { .. } = poster.frame().await {
                break;
            }
        }
    }
}

#[tokio::test]
async fn joining_the_lobby_again_never_sends_a_message_twice() {
    let (_dir, core) = core(|_| {}).await;
    post(&core, 2).await;
    // Live in the lobby from seq 2: seqs 3 and 4 arrive live before the client's join.
    let mut bob = connect(&core, "Bob", ROOMY).await;
    post(&core, 2).await;
    assert_eq!(bob.message().await.seq, 3);
    assert_eq!(bob.message().await.seq, 4);
    bob.send(r#"{"type":"join","room":"lobby","since":1}"#)
        .await;
    // Only seq 2, the one the connection had not sent, comes from history.
    assert_eq!(bob.message().await.seq, 2);
    assert_eq!(
        bob.frame().await,
        ServerFrame::Joined {
            room: "lobby".into(),
            head: 4
        }
    );
    assert!(matches!(bob.frame().await, ServerFrame::Members { .. }));
    // Joining once more, from anywhere the connection covers, sends nothing again.
    bob.send(r#"{"type":"join","room":"lobby","since":3}"#)
        .await;
    assert!(matches!(
        bob.frame().await,
        ServerFrame::Joined { head: 4, .. }
    ));
    assert!(matches!(bob.frame().await, ServerFrame::Members { .. }));
    post(&core, 1).await;
    assert_eq!(bob.message().await.seq, 5, "live messages go on");
}

#[tokio::test]
async fn a_connection_opened_with_since_resumes_the_lobby_in_order_before_live_messages() {
    let (_dir, core) = core(|_| {}).await;
    post(&core, 3).await;
    let mut bob = open(&core, "Bob", ROOMY, Some(1)).await;
    assert_eq!(bob.message().await.seq, 2);
    assert_eq!(bob.message().await.seq, 3);
    assert_eq!(
        bob.frame().await,
        ServerFrame::Joined {
            room: "lobby".into(),
            head: 3
        }
    );
    assert!(matches!(bob.frame().await, ServerFrame::Members { .. }));
    post(&core, 1).await;
    assert_eq!(bob.message().await.seq, 4);
    // A join of the lobby from the same seq, as older clients send, repeats nothing.
    bob.send(r#"{"type":"join","room":"lobby","since":1}"#)
        .await;
    assert!(matches!(
        bob.frame().await,
        ServerFrame::Joined { head: 4, .. }
    ));
}

#[tokio::test]
async fn a_connection_opened_with_since_beyond_the_head_is_told_and_stays_live() {
    let (_dir, core) = core(|_| {}).await;
    post(&core, 1).await;
    let mut bob = open(&core, "Bob", ROOMY, Some(9)).await;
    match bob.frame().await {
        ServerFrame::Error { code, message } => {
            assert_eq!(code, ErrorCode::SeqBeyondHead);
            assert!(message.contains("since 9"), "{message}");
        }
        other => panic!("expected seq_beyond_head, got {other:?}"),
    }
    post(&core, 1).await;
    assert_eq!(bob.message().await.seq, 2);
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed_with_4009() {
    let (_dir, core) = core(|config| {
        config.heartbeat_interval_ms = 50;
        config.heartbeat_timeout_ms = 50;
    })
    .await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    assert!(matches!(ada.frame().await, ServerFrame::Ping { .. }));
    assert_eq!(ada.close_code().await, close_code::HEARTBEAT_TIMEOUT);
}

#[tokio::test]
async fn frames_past_the_burst_are_refused_as_rate_limited_and_pongs_are_free() {
    let (_dir, core) = core(|config| {
        config.rate_limit_per_sec = 1;
        config.rate_limit_burst = 2;
    })
    .await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    for _ in 0..3 {
        ada.send(r#"{"type":"pong","t":1}"#).await;
    }
    for t in 1..=3 {
        ada.send(&format!(r#"{{"type":"ping","t":{t}}}"#)).await;
    }
    assert_eq!(ada.frame().await, ServerFrame::Pong { t: 1 });
    assert_eq!(ada.frame().await, ServerFrame::Pong { t: 2 });
    match ada.frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::RateLimited),
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4008_and_others_keep_chatting() {
    let (_dir, core) = core(|config| {
        config.queue_capacity = 2;
        config.rate_limit_per_sec = 0;
    })
    .await;
    // Room for the welcome and nothing more: every later write waits for this client.
    let mut stalled = connect(&core, "Stalled", 1).await;
    let mut ada = connect(&core, "Ada", ROOMY).await;
    for n in 1..=6 {
        ada.send(&send(&format!("c-{n}"), "busy")).await;
        assert_eq!(ada.message().await.seq, n);
        assert!(matches!(ada.frame().await, ServerFrame::Ack { seq, .. } if seq == n));
    }
    assert_eq!(stalled.close_code().await, close_code::TOO_SLOW);
}
