//! Server settings, from command-line flags or `HUDDLE_*` environment variables.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::Parser;

use crate::server::http::client_address::TrustedProxy;
use crate::server::redis_url::RedisUrl;
use crate::server::store::Database;

/// Where history is kept unless `--database` says otherwise: a file in the working directory,
/// shared by the server and `huddle token`.
pub const DEFAULT_DATABASE: &str = "huddle.db";

/// Default of the largest room whose members hear of each other's comings, goings and typing.
pub const DEFAULT_PRESENCE_LIMIT: usize = 200;

/// Huddle: self-hosted real-time group chat.
#[derive(Clone, Debug, Parser)]
#[command(name = "huddle", version, about)]
pub struct Config {
    /// Address to listen on. Default: the `site-addr` of Cargo.toml's leptos metadata
    /// (127.0.0.1:3000), or `LEPTOS_SITE_ADDR` as cargo-leptos sets it.
    #[arg(long, env = "HUDDLE_ADDR")]
    pub addr: Option<SocketAddr>,

    /// Log filter, in `tracing` env-filter syntax (e.g. `info`, `huddle=debug`). Message bodies
    /// are never logged at `info` or above.
    #[arg(long, env = "HUDDLE_LOG", default_value = "info")]
    pub log: String,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "HUDDLE_LOG_JSON", default_value_t = false)]
    pub log_json: bool,

    /// Largest WebSocket message accepted, in bytes. Default 64 KiB: sixteen times the largest
    /// valid chat frame (4,000 characters of up to 4 bytes), far below tungstenite's 64 MiB.
    /// Larger messages close the connection with code 1009.
    #[arg(long, env = "HUDDLE_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,

    /// Frames queued for one connection before it counts as a slow consumer and is closed
    /// with code 4008. Default 256: several seconds of a busy room.
    #[arg(long, env = "HUDDLE_QUEUE_CAPACITY", default_value_t = 256)]
    pub queue_capacity: usize,

    /// Threads that run connections. Default: one per core the process may use. Fewer
    /// leave cores to other processes on a shared machine (src/server/runtime.rs).
    #[arg(long, env = "HUDDLE_WORKER_THREADS")]
    pub worker_threads: Option<NonZeroUsize>,

    /// Where everything is kept: a SQLite file (a path, or `sqlite:PATH`; created on first
    /// run), or a PostgreSQL database several nodes can share (`postgres://user:password@host/db`;
    /// the database must exist, its tables are created).
    #[arg(long, env = "HUDDLE_DATABASE", default_value = DEFAULT_DATABASE)]
    pub database: Database,

    /// Share rooms with other nodes through this Redis server
    /// (`redis://[:password@]host[:port][/db]`): run several nodes on one PostgreSQL
    /// `--database` behind one address (docs/deploy.md). Without it, this node is on its own.
    #[arg(long, env = "HUDDLE_REDIS")]
    pub redis: Option<RedisUrl>,

    /// How long a node's presence lives in Redis unrefreshed, in milliseconds. It is rewritten
    /// every third of this, and the store is swept for messages Redis dropped as often; a
    /// node that dies takes its people offline everywhere within this plus a third. Default
    /// 15,000.
    #[arg(long, env = "HUDDLE_REDIS_PRESENCE_TTL_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(300..))]
    pub redis_presence_ttl_ms: u64,

    /// Most messages a reconnecting client is sent to catch up. A client further behind is
    /// told to `resync` (reload the latest page) instead. Default 1,000: a few hundred KiB.
    #[arg(long, env = "HUDDLE_RESUME_LIMIT", default_value_t = 1_000)]
    pub resume_limit: u64,

    /// Milliseconds between server pings. Default 25,000: below nginx's 60 s proxy timeout.
    #[arg(long, env = "HUDDLE_HEARTBEAT_INTERVAL_MS", default_value_t = 25_000)]
    pub heartbeat_interval_ms: u64,

    /// Milliseconds a client has to show a sign of life after a ping before it is closed
    /// (code 4009). Also bounds how long one write to a client may block. Default 10,000.
    #[arg(long, env = "HUDDLE_HEARTBEAT_TIMEOUT_MS", default_value_t = 10_000)]
    pub heartbeat_timeout_ms: u64,

    /// On SIGTERM, clients are told (close code 1012) to come back after a random delay
    /// within this many milliseconds, so they do not all return at once. Default 10,000.
    #[arg(long, env = "HUDDLE_RECONNECT_SPREAD_MS", default_value_t = 10_000)]
    pub reconnect_spread_ms: u64,

    /// Longest shutdown, in seconds, from SIGTERM to exit: in-flight acks finish and sockets
    /// complete their close handshakes within it. Default 30.
    #[arg(long, env = "HUDDLE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Milliseconds a client has to send a request's line and headers, from connecting (or
    /// from the previous response, on a kept-alive connection); slower connections are closed.
    /// Against slowloris: half-sent requests cannot hold connections open. Default 10,000.
    #[arg(long, env = "HUDDLE_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,

    /// Milliseconds one HTTP request may take, its body and the answer included, before it
    /// is answered 408. A WebSocket is not bound by it once upgraded. Default 30,000.
    #[arg(long, env = "HUDDLE_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// Largest HTTP request body accepted, in bytes; larger ones are answered 413 before
    /// they are read. Default 64 KiB: a chat message or a notice is at most 16 KiB.
    #[arg(long, env = "HUDDLE_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Let people chat as guests (a display name, no password). Default true.
    #[arg(long, env = "HUDDLE_GUESTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub guests: bool,

    /// Days a guest session may go unused before it stops working and is deleted (swept
    /// hourly), so the sessions table does not keep every guest who ever came by. Account
    /// sessions are not affected: logging out ends them. Default 30; 0 keeps guests for ever.
    #[arg(long, env = "HUDDLE_GUEST_IDLE_DAYS", default_value_t = 30)]
    pub guest_idle_days: u64,

    /// Let people register and log in with a name and password. Default true.
    #[arg(long, env = "HUDDLE_ACCOUNTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub accounts: bool,

    /// Key that signs session cookies. Give every node the same one when several share a
    /// database; by default a random key is generated on first run and kept in the database.
    /// Read from the environment only, so it does not show in the process list.
    #[arg(skip = std::env::var("HUDDLE_SESSION_SECRET").ok().filter(|s| !s.is_empty()).map(Secret))]
    pub session_secret: Option<Secret>,

    /// Mark the session cookie `Secure` (sent over HTTPS only). Turn on behind a TLS proxy.
    #[arg(long, env = "HUDDLE_SECURE_COOKIES", default_value_t = false, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,

    /// Web origins whose pages may open sockets, comma-separated (e.g.
    /// `https://chat.example.com`). Empty (the default): only pages served by this server,
    /// judged by the request's Host. Other origins get 403.
    #[arg(long, env = "HUDDLE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Frames per second one connection may send on average (heartbeat answers are free).
    /// More are refused with a `rate_limited` error frame. Default 10; 0 turns the limit off
    /// (benchmarks, trusted networks).
    #[arg(long, env = "HUDDLE_RATE_LIMIT_PER_SEC", default_value_t = 10)]
    pub rate_limit_per_sec: u32,

    /// Frames one connection may send at once after a pause. Default 20.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_BURST", default_value_t = 20)]
    pub rate_limit_burst: u32,

    /// Most sockets one person may hold at once (tabs, devices). More upgrades get 429.
    /// Default 16.
    #[arg(long, env = "HUDDLE_MAX_SOCKETS_PER_USER", default_value_t = 16)]
    pub max_sockets_per_user: usize,

    /// Most sockets one client address may hold at once, signed in or not: IPv4 addresses one
    /// by one, IPv6 by /64 network. More upgrades get 429. Default 512, for an office behind
    /// one NAT address; 0 turns the limit off (load tests from one machine). Behind a reverse
    /// proxy, name it in `--trusted-proxies`, or every client counts as the proxy.
    #[arg(long, env = "HUDDLE_MAX_SOCKETS_PER_ADDRESS", default_value_t = 512)]
    pub max_sockets_per_address: usize,

    /// Guest sessions (a display name picked in a browser) one client address may start per
    /// minute; more get 429. Default 20: an office behind one NAT address; 0 turns it off.
    #[arg(
        long,
        env = "HUDDLE_GUESTS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 20
    )]
    pub guests_per_address_per_minute: u32,

    /// Account registrations one client address may attempt per minute; more get 429.
    /// Default 5; 0 turns it off.
    #[arg(
        long,
        env = "HUDDLE_REGISTRATIONS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 5
    )]
    pub registrations_per_address_per_minute: u32,

    /// Login attempts one client address may make per minute, on any names (each name also
    /// allows only 5 failures per 15 minutes); more get 429. Default 30; 0 turns it off.
    #[arg(
        long,
        env = "HUDDLE_LOGINS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 30
    )]
    pub logins_per_address_per_minute: u32,

    /// Rooms one person may bring into being per minute (joining or posting to a name no one
    /// used yet); more are refused with `rate_limited`. Anonymous raw clients count by
    /// address. Default 10; 0 turns it off.
    #[arg(long, env = "HUDDLE_NEW_ROOMS_PER_MINUTE", default_value_t = 10)]
    pub new_rooms_per_minute: u32,

    /// Most rooms one connection may be in at once, the lobby included; a `join` past it is
    /// refused with `too_many_rooms` (leave one first). Default 100.
    #[arg(long, env = "HUDDLE_MAX_ROOMS_PER_CONNECTION", default_value_t = 100)]
    pub max_rooms_per_connection: usize,

    /// Most rooms kept in memory at once. Rooms nobody is in leave memory after
    /// `--room-idle-secs`, and at once, least recently used first, when a join needs the
    /// space; when every room has members, joining one more is refused with `server_busy`.
    /// Default 50,000; 0: no limit.
    #[arg(long, env = "HUDDLE_MAX_ROOMS_IN_MEMORY", default_value_t = 50_000)]
    pub max_rooms_in_memory: usize,

    /// Seconds a room with nobody in it (here or on another node) and no message stays in
    /// memory; it comes back from the store at the next join. Default 300.
    #[arg(long, env = "HUDDLE_ROOM_IDLE_SECS", default_value_t = 300)]
    pub room_idle_secs: u64,

    /// Reverse proxies whose `X-Forwarded-For` is believed, comma-separated addresses or
    /// networks (e.g. `127.0.0.1,10.0.0.0/8`). A request from one of them counts as from the
    /// client the header names; from anyone else, the header is ignored, since any client
    /// can write it. Default: none.
    #[arg(long, env = "HUDDLE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<TrustedProxy>,

    /// Largest room whose members are told of each other's comings, goings and typing.
    /// Default 200.
    #[arg(long, env = "HUDDLE_PRESENCE_LIMIT", default_value_t = DEFAULT_PRESENCE_LIMIT)]
    pub presence_limit: usize,

    /// Serve Prometheus metrics at `http://ADDR/metrics`, a listener of its own apart from the
    /// public port (e.g. `127.0.0.1:9464`, or a private address Prometheus reaches). Off by
    /// default.
    #[arg(long, env = "HUDDLE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Serve `/diagnostic/echo`, a WebSocket echo route using the same socket code, for the
    /// Autobahn conformance suite. Off by default: it is a test aid, not a feature.
    #[arg(long, env = "HUDDLE_DIAGNOSTIC_ECHO", default_value_t = false)]
    pub diagnostic_echo: bool,
}

/// A value that must not be printed: `Debug` shows that it is set, not what it is.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Config {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn room_idle(&self) -> Duration {
        Duration::from_secs(self.room_idle_secs)
    }

    /// How long a guest session may go unused; `None`: for ever.
    pub fn guest_idle(&self) -> Option<Duration> {
        (self.guest_idle_days > 0).then(|| Duration::from_secs(self.guest_idle_days * 24 * 60 * 60))
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.heartbeat_timeout_ms)
    }

    /// Defaults, as if no flag or variable were given, with history in `database` (for
    /// tests and embedding).
    pub fn with_database(database: impl Into<Database>) -> Self {
        let mut config = Config::parse_from(["huddle"]);
        config.database = database.into();
        config
    }
}
