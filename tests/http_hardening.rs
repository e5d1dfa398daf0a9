//! HTTP against a hostile client: half-sent requests (slowloris) are closed within the
//! header-read timeout while real clients keep chatting, bodies that never finish get 408,
//! bodies over the limit 413, and every answer carries the security headers (a page's
//! Content-Security-Policy naming the nonce its one inline script bears) and a request id.

mod common;

use std::time::{Duration, Instant};

use common::{browser, TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends the start of a request and then one more header line every 100 ms, never the blank
/// line that would end the head, until the server closes the connection. Returns how long the
/// server let it live and what it answered (if anything) before closing.
async fn slowloris(server: std::net::SocketAddr) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(server).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: huddle\r\n")
        .await
        .unwrap();
    let mut answered = Vec::new();
    let mut buffer = [0u8; 1024];
    let mut trickle = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return (started.elapsed(), answered),
                Ok(n) => answered.extend_from_slice(&buffer[..n]),
            },
            _ = trickle.tick() => {
                // Once the server has closed, writes fail; the read above then ends it.
                let _ = stream.write_all(b"X-Slow: 1\r\n").await;
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "a half-sent request was held for {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn half_sent_requests_are_closed_within_the_header_timeout_while_real_clients_chat() {
    const ATTACKERS: usize = 300;
    let timeout = Duration::from_millis(600);
    let server = TestServer::start_with(|config| {
        config.header_read_timeout_ms = timeout.as_millis() as u64;
    })
    .await;
    let mut attack = tokio::task::JoinSet::new();
    for _ in 0..ATTACKERS {
        attack.spawn(slowloris(server.addr));
    }
    // During the attack, a page loads and two people chat.
    let page = browser().get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut ada = server.client().await;
    let mut bob = server.client().await;
    ada.join(None).await;
    bob.join(None).await;
    ada.say("during-attack", "still here").await;
    assert_eq!(bob.next_message().await.text, "still here");
    let mut held = Vec::new();
    while let Some(joined) = attack.join_next().await {
        let (lived, answered) = joined.unwrap();
        let answered = String::from_utf8_lossy(&answered);
        assert!(
            answered.is_empty() || answered.starts_with("HTTP/1.1 408"),
            "a half-sent request was answered {answered:?}"
        );
        held.push(lived);
    }
    let longest = held.iter().max().unwrap();
    assert!(
        *longest >= timeout && *longest < timeout + Duration::from_millis(1_500),
        "half-sent requests were held up to {longest:?} (timeout {timeout:?})"
    );
    // The chat went on throughout, and goes on after.
    ada.say("after-attack", "and after").await;
    assert_eq!(bob.next_message().await.text, "and after");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|config| config.header_read_timeout_ms = 300).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: huddle\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    let idle = Instant::now();
    // Whatever is left of the answer, then the end.
    while stream.read(&mut answer).await.unwrap_or(0) > 0 {}
    let lived = idle.elapsed();
    assert!(
        lived < Duration::from_millis(300 + 1_500),
        "an idle connection lived {lived:?}"
    );
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_within_the_request_timeout() {
    let server = TestServer::start_with(|config| config.request_timeout_ms = 500).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(
            format!(
                "POST /api/choose_name HTTP/1.1\r\nHost: {}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100\r\n\r\nname=Sl",
                server.addr
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(2_000),
        "answered after {took:?}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413_and_smaller_ones_are_not() {
    let server = TestServer::start_with(|config| config.max_body_bytes = 4 * 1024).await;
    let origin = format!("http://{}", server.addr);
    let big = "x".repeat(5 * 1024);
    for path in [
        "/api/choose_name",
        "/api/post_message",
        "/api/notify",
        "/api/rooms/lobby/messages",
    ] {
        let response = browser()
            .post(server.url(path))
            .header("origin", &origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name={big}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
    }
    // Under the limit, the route answers for itself.
    let response = browser()
        .post(server.url("/api/choose_name"))
        .header("origin", &origin)
        .form(&[("name", "Small")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Small"));
}

/// The value of `directive` in a Content-Security-Policy.
fn directive<'a>(policy: &'a str, directive: &str) -> &'a str {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(directive))
        .unwrap_or_else(|| panic!("no {directive} in {policy}"))
        .trim()
}

#[tokio::test]
async fn pages_allow_only_their_own_scripts_by_nonce_and_every_answer_has_the_headers() {
    let server = TestServer::start().await;
    // The lobby, a room, and a page that does not exist (rendered by the fallback).
    for (path, status) in [("/", 200), ("/r/general", 200), ("/no/such/page", 404)] {
        let response = browser().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers().clone();
        let policy = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let scripts = directive(&policy, "script-src");
        assert!(!scripts.contains("unsafe-inline"), "{path}: {policy}");
        let nonce = scripts
            .split_whitespace()
            .find_map(|source| source.strip_prefix("'nonce-"))
            .and_then(|source| source.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"))
            .to_owned();
        assert!(nonce.len() >= 16, "{path}: a short nonce {nonce}");
        assert_eq!(directive(&policy, "frame-ancestors"), "'none'");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert_eq!(headers["x-frame-options"], "DENY");
        let html = response.text().await.unwrap();
        // Every inline script bears the nonce; there is at least the hydration bootstrap.
        let inline_scripts: Vec<&str> = html
            .match_indices("<script")
            .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()])
            .filter(|tag| !tag.contains("src="))
            .collect();
        assert!(!inline_scripts.is_empty(), "{path}: no inline script");
        for tag in inline_scripts {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: {tag} lacks the nonce"
            );
        }
    }
    // Each page gets a nonce of its own.
    let policy = |response: reqwest::Response| {
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let first = policy(browser().get(server.url("/")).send().await.unwrap());
    let second = policy(browser().get(server.url("/")).send().await.unwrap());
    assert_ne!(first, second);
    // Not a page: nothing may run.
    let health = browser().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn every_answer_names_its_request_and_a_callers_id_is_kept() {
    let server = TestServer::start().await;
    let response = browser().get(server.url("/healthz")).send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "not a UUID: {id}");
    let other = browser().get(server.url("/healthz")).send().await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
    let kept = browser()
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42");
}
