//! The `huddle` binary as an operator runs it.

mod common;

use std::time::{Duration, Instant};

use common::{start_binary, Client};
use huddle::protocol::close_code;
use tokio::process::{Child, Command};

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The `retry_after_ms` a 1012 close carries in its reason.
fn retry_after_ms(reason: &str) -> u64 {
    let reason: serde_json::Value = serde_json::from_str(reason).expect("a JSON close reason");
    reason["retry_after_ms"].as_u64().expect("retry_after_ms")
}

#[tokio::test]
async fn sigterm_with_200_clients_closes_all_with_1012_spread_out_and_exits_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let spread_ms = 5_000;
    let running = common::start_binary_with(
        &dir.path().join("huddle.db"),
        &[
            "--reconnect-spread-ms",
            "5000",
            "--shutdown-grace-secs",
            "30",
        ],
    )
    .await;
    let ws_url = running.ws_url();
    let mut child = running.child;
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(Client::connect(&ws_url, None).await);
    }

    let signalled = Instant::now();
    send_signal(&child, "-TERM");
    let mut delays = Vec::new();
    for client in &mut clients {
        let close = client.close_frame().await;
        assert_eq!(u16::from(close.code), close_code::SERVICE_RESTART);
        delays.push(retry_after_ms(close.reason.as_str()));
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the process exits within the 30 s bound")
        .unwrap();
    assert!(status.success(), "clean exit, got {status}");
    assert!(signalled.elapsed() < Duration::from_secs(30));

    // Spread: clients come back over the whole window, not in the same second.
    delays.sort_unstable();
    assert!(delays.iter().all(|&d| d < spread_ms), "{delays:?}");
    let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
    assert!(
        distinct.len() > 150,
        "only {} distinct delays",
        distinct.len()
    );
    assert!(
        delays[0] < spread_ms / 4 && delays[199] > spread_ms * 3 / 4,
        "{delays:?}"
    );
    let per_second = |s: u64| delays.iter().filter(|&&d| d / 1000 == s).count();
    assert!(
        (0..5).all(|s| per_second(s) < 80),
        "no second takes most clients: {delays:?}"
    );
}

#[tokio::test]
async fn sigint_stops_the_server_too() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_binary(&dir.path().join("huddle.db")).await;
    let ws_url = running.ws_url();
    let mut child = running.child;
    let mut client = Client::connect(&ws_url, None).await;
    send_signal(&child, "-INT");
    assert_eq!(
        u16::from(client.close_frame().await.code),
        close_code::SERVICE_RESTART
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success());
}

/// What the binary says on stderr when `args` make it exit with failure.
async fn refusal(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_bad_flag_is_refused_with_a_clear_error() {
    let stderr = refusal(&["--addr", "not-an-address", "--database", ":memory:"]).await;
    assert!(stderr.contains("--addr"), "{stderr}");
    let stderr = refusal(&[
        "--trusted-proxies",
        "127.0.0.1,nginx",
        "--database",
        ":memory:",
    ])
    .await;
    assert!(stderr.contains("--trusted-proxies"), "{stderr}");
    assert!(
        stderr.contains("\"nginx\" is not an IP address or network"),
        "{stderr}"
    );
}

#[tokio::test]
async fn one_worker_thread_is_enough_to_chat_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let running =
        common::start_binary_with(&dir.path().join("huddle.db"), &["--worker-threads", "1"]).await;
    let ws_url = running.ws_url();
    let mut alice = Client::connect(&ws_url, None).await;
    let mut bob = Client::connect(&ws_url, None).await;
    alice.join(None).await;
    bob.join(None).await;
    alice.say("c1", "one thread").await;
    assert_eq!(bob.next_message().await.text, "one thread");

    let stderr = refusal(&["--worker-threads", "0", "--database", ":memory:"]).await;
    assert!(stderr.contains("--worker-threads"), "{stderr}");
}

#[tokio::test]
async fn an_unusable_database_path_is_reported_not_panicked_on() {
    let stderr = refusal(&[
        "--addr",
        "127.0.0.1:0",
        "--database",
        "/nonexistent-dir/huddle.db",
    ])
    .await;
    assert!(
        stderr.contains("opening the history database /nonexistent-dir/huddle.db"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_one_line_naming_it_without_the_password_and_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://huddle:s3cret@127.0.0.1:{port}/huddle");
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", "127.0.0.1:0", "--database", &url])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let masked = format!("postgres://huddle:***@127.0.0.1:{port}/huddle");
    assert!(
        stderr.contains(&format!("opening the history database {masked}")),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_busy_port_is_reported_not_panicked_on() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = refusal(&["--addr", &addr, "--database", ":memory:"]).await;
    assert!(stderr.contains(&format!("binding {addr}")), "{stderr}");
}

#[tokio::test]
async fn info_logs_never_contain_what_people_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_logging(&dir.path().join("huddle.db"), "info").await;
    let secret = "my-very-private-words-7f3a";
    let mut client = Client::connect(
        &format!("{}/ws", server.url.replacen("http://", "ws://", 1)),
        None,
    )
    .await;
    client.say("c-secret", secret).await;
    assert_eq!(client.next_message().await.text, secret);
    send_signal(&server.child, "-TERM");
    client.close_frame().await;
    let printed = server.output().await;
    assert!(
        printed.contains("connected"),
        "info logs were expected: {printed}"
    );
    assert!(
        !printed.contains(secret),
        "a message body reached the logs: {printed}"
    );
}

/// The binary, started with `--log <level>` on `database`, once it has printed its URL.
/// Its pipes are read on from then on: a server blocked on a full pipe would never exit.
struct Logging {
    child: Child,
    url: String,
    /// What it printed up to its URL.
    printed: String,
    /// The rest of its stdout, then all of its stderr, once it exits.
    rest: tokio::task::JoinHandle<String>,
}

impl Logging {
    /// Waits for the server to exit (the caller has signalled it) and returns everything it
    /// printed.
    async fn output(mut self) -> String {
        self.child.wait().await.unwrap();
        let mut printed = self.printed;
        printed.push_str(&self.rest.await.unwrap());
        printed
    }
}

async fn start_logging(database: &std::path::Path, level: &str) -> Logging {
    use std::process::Stdio;
    use tokio::io::AsyncReadExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(["--addr", "127.0.0.1:0", "--log", level, "--database"])
        .arg(database)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut printed = String::new();
    let mut buffer = [0u8; 4096];
    let url = loop {
        let n = stdout.read(&mut buffer).await.unwrap();
        assert!(n > 0, "exited early: {printed}");
        printed.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if let Some(rest) = printed.split("open ").nth(1) {
            if let Some(url) = rest.split_whitespace().next() {
                break url.to_owned();
            }
        }
    };
    let rest = tokio::spawn(async move {
        let (mut out, mut err) = (String::new(), String::new());
        let (read_out, read_err) = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err)
        );
        read_out.unwrap();
        read_err.unwrap();
        out + &err
    });
    Logging {
        child,
        url,
        printed,
        rest,
    }
}

/// Runs `huddle` with `args` and `env` to completion; returns (success, stdout + stderr).
async fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_huddle"))
        .args(args)
        .env_remove("HUDDLE_API_TOKEN")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

#[tokio::test]
async fn tokens_and_session_cookies_never_reach_the_logs_and_the_push_cli_works() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("huddle.db");
    let database_arg = database.to_str().unwrap();

    // An operator makes a token for a backend.
    let (ok, printed) = run_cli(
        &["token", "create", "deploys", "--database", database_arg],
        &[],
    )
    .await;
    assert!(ok, "{printed}");
    let token = printed.trim().to_owned();
    assert!(token.starts_with("hdl_") && token.len() > 60, "{token}");
    let (ok, printed) = run_cli(
        &["token", "create", "deploys", "--database", database_arg],
        &[],
    )
    .await;
    assert!(
        !ok && printed.contains("exists"),
        "a duplicate name is refused: {printed}"
    );

    // The server, logging at debug: more than anyone runs in production.
    let server = start_logging(&database, "debug").await;
    let url = server.url.clone();

    // Someone registers, then chats with their session cookie.
    let registered = reqwest::Client::new()
        .post(format!("{url}/api/register"))
        .header("accept", "application/json")
        .form(&[("name", "Operator"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "{}", registered.status());
    let cookie = common::cookie_pair(registered.headers()["set-cookie"].to_str().unwrap());
    let session_value = cookie.split_once('=').unwrap().1.to_owned();
    let ws_url = format!("{}/ws", url.replacen("http://", "ws://", 1));
    let mut client = Client::connect(&ws_url, Some(&cookie)).await;
    assert_eq!(client.me.name, "Operator");

    // The backend pushes a notice with the CLI; a missing token is a clear error.
    let (ok, printed_cli) = run_cli(
        &["push", "notify", "maintenance at noon", "--url", &url],
        &[],
    )
    .await;
    assert!(
        !ok && printed_cli.contains("HUDDLE_API_TOKEN"),
        "{printed_cli}"
    );
    let (ok, printed_cli) = run_cli(
        &["push", "notify", "maintenance at noon", "--url", &url],
        &[("HUDDLE_API_TOKEN", &token)],
    )
    .await;
    assert!(ok, "{printed_cli}");
    assert!(
        printed_cli.contains("delivered to 1 connection"),
        "{printed_cli}"
    );
    match client.next_frame().await {
        huddle::protocol::ServerFrame::Notice { text, from, .. } => {
            assert_eq!(
                (text.as_str(), from.as_str()),
                ("maintenance at noon", "deploys")
            );
        }
        other => panic!("expected the notice, got {other:?}"),
    }
    let (ok, printed_cli) = run_cli(
        &["push", "message", "lobby", "deployed v2", "--url", &url],
        &[("HUDDLE_API_TOKEN", &token)],
    )
    .await;
    assert!(ok && printed_cli.contains("seq 1"), "{printed_cli}");
    assert_eq!(client.next_message().await.user.name, "deploys");
    let (ok, printed_cli) = run_cli(
        &["push", "notify", "x", "--url", &url],
        &[("HUDDLE_API_TOKEN", "hdl_wrong")],
    )
    .await;
    assert!(!ok && printed_cli.contains("401"), "{printed_cli}");

    send_signal(&server.child, "-TERM");
    client.close_frame().await;
    let printed = server.output().await;
    assert!(
        printed.contains("notice pushed"),
        "debug logs were expected: {printed}"
    );
    assert!(
        !printed.contains(&token),
        "an API token reached the logs: {printed}"
    );
    let session_id = session_value.split('.').next().unwrap();
    assert!(
        !printed.contains(session_id),
        "a session cookie reached the logs: {printed}"
    );
}

/// Browsers abandon page loads all the time (a reload, a closed tab, a click away). The
/// server must shrug: no panic in its log, and the next page still renders.
#[tokio::test]
async fn abandoned_page_loads_leave_no_panic_in_the_log() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start_logging(&dir.path().join("huddle.db"), "warn").await;
    let url = server.url.clone();
    let http = reqwest::Client::new();
    // With a session the page renders everything: the room list, the account, the composer.
    let chosen = http
        .post(format!("{url}/api/choose_name"))
        .form(&[("name", "ada")])
        .send()
        .await
        .unwrap();
    let cookie = chosen.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let addr = url.trim_start_matches("http://").to_owned();
    // One at a time: the race needs an idle worker thread to run the render's effects on.
    let abandoners = (0..1u64).map(|worker| {
        let (addr, cookie) = (addr.clone(), cookie.clone());
        tokio::spawn(async move {
            for i in 0..400u64 {
                let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
                let path = if i % 2 == 0 {
                    "/".to_owned()
                } else {
                    format!("/r/room{}", i % 5)
                };
                let with_session = if (worker + i) % 3 == 0 {
                    ""
                } else {
                    cookie.as_str()
                };
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {with_session}\r\n\r\n"
                );
                socket.write_all(request.as_bytes()).await.unwrap();
                // Give up mid-render: a debug build renders this page in a few milliseconds.
                tokio::time::sleep(Duration::from_micros(fastrand::u64(2_000..10_000))).await;
                drop(socket);
            }
        })
    });
    for abandoner in abandoners.collect::<Vec<_>>() {
        abandoner.await.unwrap();
    }
    let page = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Messages"));

    send_signal(&server.child, "-TERM");
    let printed = server.output().await;
    let first_panic = printed
        .find("panicked")
        .map(|at| &printed[at..(at + 600).min(printed.len())]);
    assert_eq!(first_panic, None, "the server panicked");
}
