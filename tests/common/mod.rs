//! A real Huddle server on an ephemeral port, and a WebSocket client that speaks to it.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod cluster;
pub mod nginx;
pub mod postgres;
pub mod raw;
pub mod redis;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use huddle::protocol::{ChatMessage, ClientFrame, ServerFrame, User};
use huddle::server::store::Database;
use huddle::server::{serve, AppState, Config};
use leptos::prelude::LeptosOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for any single awaited event; a test that waits this long has failed.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub config: Config,
    /// Holds the database file; removed when the server is dropped.
    dir: Option<tempfile::TempDir>,
    /// The server's PostgreSQL schema when the suite runs on PostgreSQL; dropped with it.
    postgres: Option<std::sync::Arc<postgres::TestDatabase>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with default settings and a fresh database file.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server with a fresh database and settings changed by `tweak`: a SQLite file, or a
    /// PostgreSQL schema of its own when the suite runs on PostgreSQL
    /// ([`postgres::suite_uses_postgres`]).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_database(dir.path().join("huddle.db"));
        let postgres = if postgres::suite_uses_postgres() {
            let database = postgres::TestDatabase::create().await;
            config.database = database.database();
            Some(std::sync::Arc::new(database))
        } else {
            None
        };
        tweak(&mut config);
        let mut server = Self::launch(config, Some(dir)).await;
        server.postgres = postgres;
        server
    }

    /// One node of a cluster: history in `database` (shared with the other nodes), rooms
    /// shared through the Redis at `redis_url`, settings changed by `tweak`.
    pub async fn start_node(
        database: &std::sync::Arc<postgres::TestDatabase>,
        redis_url: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut server = Self::start_node_on(database.database(), redis_url, tweak).await;
        server.postgres = Some(database.clone());
        server
    }

    /// [`TestServer::start_node`] on a database of the caller's (a server of a test's own).
    pub async fn start_node_on(
        database: Database,
        redis_url: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_database(database);
        config.redis = Some(redis_url.parse().unwrap());
        tweak(&mut config);
        Self::launch(config, Some(dir)).await
    }

    /// Runs `sql` on the server's database behind its back, as an operator's tool (or a
    /// failing disk) would.
    pub async fn execute_sql(&self, sql: &str) {
        match (&self.postgres, &self.config.database) {
            (Some(postgres), _) => postgres.execute(sql).await,
            (None, Database::Sqlite(path)) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            (None, other) => panic!("no way to run SQL on {other}"),
        }
    }

    /// A server for flooding a client that stopped reading: queues of `queue_capacity`
    /// frames, no rate limit (the flood is the point), and heartbeats too far apart to end
    /// anything first, so only the queue and the socket's buffers decide.
    pub async fn for_floods(queue_capacity: usize) -> Self {
        Self::start_with(|config| {
            config.queue_capacity = queue_capacity;
            config.heartbeat_interval_ms = 600_000;
            config.heartbeat_timeout_ms = 600_000;
            config.rate_limit_per_sec = 0;
        })
        .await
    }

    /// Stops this server and starts another on the same database file.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await.unwrap();
        let dir = self.dir.take();
        let postgres = self.postgres.take();
        let mut server = Self::launch(self.config.clone(), dir).await;
        server.postgres = postgres;
        server
    }

    /// A server (SQLite) serving the site files in `site_root`, with hashed names or not.
    pub async fn serving_site(site_root: &std::path::Path, hashed: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::with_database(dir.path().join("huddle.db"));
        Self::launch_site(config, Some(dir), Some((site_root, hashed))).await
    }

    async fn launch(config: Config, dir: Option<tempfile::TempDir>) -> Self {
        Self::launch_site(config, dir, None).await
    }

    async fn launch_site(
        config: Config,
        dir: Option<tempfile::TempDir>,
        site: Option<(&std::path::Path, bool)>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut options = LeptosOptions::builder()
            .output_name("huddle")
            .site_addr(addr)
            .build();
        if let Some((root, hashed)) = site {
            options.site_root = root.to_string_lossy().into_owned().into();
            options.hash_files = hashed;
        }
        let state = AppState::new(config.clone(), options).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            config,
            dir,
            postgres: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Everything the lobby has stored, in seq order.
    pub async fn stored_messages(&self) -> Vec<ChatMessage> {
        self.state.store.range("lobby", 0, u64::MAX).await.unwrap()
    }

    /// A chat client that has received its welcome frame.
    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url(), None).await
    }

    /// The `Cookie` header of a guest who picked `name` (a session, as the page makes one).
    pub async fn guest_cookie(&self, name: &str) -> String {
        let (_, set_cookie) = self
            .state
            .auth
            .choose_guest_name(name, None, None)
            .await
            .expect("a valid guest name");
        cookie_pair(&set_cookie.expect("a new session sets a cookie"))
    }

    /// The `Cookie` header of a newly registered account.
    pub async fn account_cookie(&self, name: &str, password: &str) -> String {
        let (_, set_cookie) = self
            .state
            .auth
            .register(name, password, None)
            .await
            .expect("registration succeeds");
        cookie_pair(&set_cookie)
    }

    /// A chat client whose upgrade request carries `cookie`.
    pub async fn client_with_cookie(&self, cookie: &str) -> Client {
        Client::connect(&self.ws_url(), Some(cookie)).await
    }

    /// Sends the shutdown signal (as SIGTERM would) without waiting.
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Sends the shutdown signal and waits for `serve` to return.
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        self.signal_shutdown();
        let task = self.task.take().expect("shut down once");
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("serve returns within the patience bound")
            .expect("serve does not panic")
    }
}

/// `GET path` (`/healthz`, `/readyz`) on `server`: its status and JSON body, which is never
/// to be cached.
pub async fn health(server: &TestServer, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(server.url(path)).await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "{path} is never cached"
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    (status, response.json().await.unwrap())
}

/// Asks `server`'s `/readyz` until it answers `status` (the cause having come or gone);
/// returns that body, or panics after [`PATIENCE`] with the last one.
pub async fn readiness_becomes(server: &TestServer, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (now, body) = health(server, "/readyz").await;
        if now == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still {now} after {PATIENCE:?}: {body}"
        );
        // Each probe is a round trip to the database and Redis; a short pause keeps this
        // from being a busy loop while a restarted server comes up.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A socket upgraded from `url` over a TCP connection made from the loopback address
/// `source` (127.0.0.x: Linux routes all of 127/8 to loopback), as a client elsewhere on the
/// network would be; or, if refused, the HTTP status and body it got.
pub async fn upgrade_from(
    source: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<TcpStream>, (u16, String)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let host = request.uri().authority().unwrap().as_str().to_owned();
    let server: SocketAddr = host.parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    let stream = socket.connect(server).await.unwrap();
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err((
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(other) => panic!("unexpected upgrade error: {other}"),
    }
}

/// An HTTP client that, like a test of where a browser is sent, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a `Set-Cookie` header value.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub socket: Socket,
    pub me: User,
    /// Acks seen while waiting for messages: (client_id, id, seq).
    pub acks: Vec<(String, String, u64)>,
    /// Presence, member lists and typing, set aside by `next_frame` for `next_presence`.
    pub presence: VecDeque<ServerFrame>,
    /// Other frames read while waiting for presence, for `next_frame` to return first.
    backlog: VecDeque<ServerFrame>,
}

/// Frames about who is here rather than what was said.
fn is_presence(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Presence { .. } | ServerFrame::Members { .. } | ServerFrame::Typing { .. }
    )
}

impl Client {
    pub async fn connect(url: &str, cookie: Option<&str>) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut client = Client {
            socket,
            me: User {
                id: String::new(),
                name: String::new(),
            },
            acks: Vec::new(),
            presence: VecDeque::new(),
            backlog: VecDeque::new(),
        };
        match client.next_frame().await {
            ServerFrame::Welcome { user, .. } => client.me = user,
            other => panic!("expected a welcome frame first, got {other:?}"),
        }
        client
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_frame(&mut self, frame: &ClientFrame) {
        self.send_text(&serde_json::to_string(frame).unwrap()).await;
    }

    pub async fn say(&mut self, client_id: &str, text: &str) {
        self.say_in("lobby", client_id, text).await;
    }

    pub async fn say_in(&mut self, room: &str, client_id: &str, text: &str) {
        self.send_frame(&ClientFrame::Send {
            room: room.into(),
            client_id: client_id.into(),
            text: text.into(),
        })
        .await;
    }

    /// The next protocol frame other than presence, member lists and typing (kept for
    /// [`Client::next_presence`]); fails the test on timeout, close or a non-text frame.
    pub async fn next_frame(&mut self) -> ServerFrame {
        loop {
            let frame = match self.backlog.pop_front() {
                Some(frame) => frame,
                None => self.read_frame().await,
            };
            if is_presence(&frame) {
                self.presence.push_back(frame);
                continue;
            }
            return frame;
        }
    }

    /// The next presence, member list or typing frame, in arrival order.
    pub async fn next_presence(&mut self) -> ServerFrame {
        loop {
            if let Some(frame) = self.presence.pop_front() {
                return frame;
            }
            let frame = self.read_frame().await;
            if is_presence(&frame) {
                return frame;
            }
            self.backlog.push_back(frame);
        }
    }

    async fn read_frame(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a frame within the patience bound")
                .expect("the socket is still open")
                .expect("no socket error");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends `frame` and returns the error it must be refused with.
    pub async fn refused(&mut self, frame: &str) -> (huddle::protocol::ErrorCode, String) {
        self.send_text(frame).await;
        match self.next_frame().await {
            ServerFrame::Error { code, message } => (code, message),
            other => panic!("expected an error for {frame}, got {other:?}"),
        }
    }

    /// The next message, recording acks on the way (they may come before or after it).
    pub async fn next_message(&mut self) -> ChatMessage {
        loop {
            match self.next_frame().await {
                ServerFrame::Message(message) => return message,
                ServerFrame::Ack {
                    client_id, id, seq, ..
                } => self.acks.push((client_id, id, seq)),
                // Heartbeats may come at any time; reading answers the WebSocket ping.
                ServerFrame::Ping { .. } => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Floods the lobby for a client that stopped reading: 4,000-character messages in bursts
    /// of `burst`, each burst read back before the next so that this sender never falls
    /// behind, for as long as `stalled_is_held()` says. Returns how many were sent; fails the
    /// test past `max`.
    pub async fn flood_while(
        &mut self,
        burst: usize,
        max: usize,
        stalled_is_held: impl Fn() -> bool,
    ) -> usize {
        let text = "x".repeat(4_000);
        let mut sent = 0;
        while stalled_is_held() {
            assert!(
                sent < max,
                "still held after {sent} messages of 4,000 characters"
            );
            for n in sent..sent + burst {
                self.say(&format!("c-{n}"), &text).await;
            }
            for n in sent..sent + burst {
                assert_eq!(self.next_message().await.client_id, format!("c-{n}"));
            }
            sent += burst;
        }
        sent
    }

    /// Waits for the ack of `client_id` (skipping messages) and returns (id, seq).
    pub async fn ack_for(&mut self, client_id: &str) -> (String, u64) {
        loop {
            if let Some((_, id, seq)) = self.acks.iter().find(|(c, _, _)| c == client_id) {
                return (id.clone(), *seq);
            }
            match self.next_frame().await {
                ServerFrame::Ack {
                    client_id, id, seq, ..
                } => self.acks.push((client_id, id, seq)),
                ServerFrame::Message(_) | ServerFrame::Ping { .. } => {}
                other => panic!("expected an ack, got {other:?}"),
            }
        }
    }

    /// Sends `join` and returns the messages it catches up on, up to the `joined` frame.
    pub async fn join(&mut self, since: Option<u64>) -> Vec<ChatMessage> {
        self.join_room("lobby", since).await
    }

    /// Sends `join` for `room` and returns the messages it catches up on.
    pub async fn join_room(&mut self, room: &str, since: Option<u64>) -> Vec<ChatMessage> {
        self.send_frame(&ClientFrame::Join {
            room: room.into(),
            since,
        })
        .await;
        let mut caught_up = Vec::new();
        loop {
            match self.next_frame().await {
                ServerFrame::Message(message) => caught_up.push(message),
                ServerFrame::Ack {
                    client_id, id, seq, ..
                } => self.acks.push((client_id, id, seq)),
                ServerFrame::Joined { .. } => return caught_up,
                ServerFrame::Ping { .. } => {}
                other => panic!("expected messages then joined, got {other:?}"),
            }
        }
    }

    /// The next WebSocket message of any kind; fails the test on timeout or error.
    pub async fn next_raw(&mut self) -> Message {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("a frame within the patience bound")
            .expect("the socket is still open")
            .expect("no socket error")
    }

    /// Reads until the server's close frame and returns it, skipping other frames.
    pub async fn close_frame(&mut self) -> CloseFrame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a close frame within the patience bound");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return frame,
                Some(Ok(Message::Close(None))) => panic!("close frame without a code"),
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket error before the close frame: {err}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }

    /// Proves that nothing else is queued for this client: a marker it sends now must come
    /// back as the very next frame.
    pub async fn assert_nothing_pending(&mut self) {
        let marker = format!("marker-{}", unique());
        self.say(&marker, "marker").await;
        let next = self.next_message().await;
        assert_eq!(
            next.client_id, marker,
            "an unexpected frame arrived before the marker"
        );
    }
}

fn unique() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The `huddle` binary, running.
pub struct Running {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, as the binary printed it.
    pub url: String,
}

impl Running {
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.url.replacen("http://", "ws://", 1))
    }
}

/// Starts the binary on an ephemeral port with its history in `database`, and waits until it
/// prints its URL (it does so once it listens).
pub async fn start_binary(database: &std::path::Path) -> Running {
    start_binary_with(database, &[]).await
}

/// [`start_binary`] with extra flags.
pub async fn start_binary_with(database: &std::path::Path, extra_args: &[&str]) -> Running {
    start_binary_at("127.0.0.1:0", database, extra_args).await
}

/// [`start_binary_with`] listening on `addr` (a node behind a proxy, restarted on its port).
pub async fn start_binary_at(
    addr: &str,
    database: &std::path::Path,
    extra_args: &[&str],
) -> Running {
    start_binary_wrapped(&[], addr, database, extra_args).await
}

/// [`start_binary_at`], run through `wrapper` (a command and its arguments, which then runs
/// the binary with its own: `prlimit`, a shell that sets up the process first); none if empty.
pub async fn start_binary_wrapped(
    wrapper: &[&str],
    addr: &str,
    database: &std::path::Path,
    extra_args: &[&str],
) -> Running {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let binary = env!("CARGO_BIN_EXE_huddle");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = tokio::process::Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => tokio::process::Command::new(binary),
    };
    let mut child = command
        .args(["--addr", addr, "--log", "warn"])
        .arg("--database")
        .arg(database)
        .args(extra_args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the huddle binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("open ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the binary exited without printing its URL");
    })
    .await
    .expect("the binary prints its URL");
    Running { child, url }
}
