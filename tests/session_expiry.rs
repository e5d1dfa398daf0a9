//! Guest sessions expire: one unused for `--guest-idle-days` stops working at its next use and
//! is deleted, the hourly sweep deletes those that never come back, and a session in use keeps
//! its last-use time fresh. Account sessions never expire by idleness.

mod common;

use axum::http::{header::COOKIE, HeaderMap, HeaderValue};
use common::TestServer;
use huddle::server::clock::unix_millis;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Request headers carrying `cookie`.
fn with_cookie(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
    headers
}

/// The display name `cookie`'s session resolves to, if it still works.
async fn who(server: &TestServer, cookie: &str) -> Option<String> {
    let identity = server
        .state
        .auth
        .identify(&with_cookie(cookie))
        .await
        .unwrap();
    identity.map(|identity| identity.user.name)
}

/// Makes every session of `name` last used `days` ago, as if that much time had passed.
async fn age(server: &TestServer, name: &str, days: i64) {
    let seen_at = unix_millis() - days * DAY_MS;
    server
        .execute_sql(&format!(
            "UPDATE sessions SET seen_at = {seen_at} WHERE user_name = '{name}'"
        ))
        .await;
}

#[tokio::test]
async fn a_guest_unused_past_the_limit_is_signed_out_and_an_account_is_not() {
    let server = TestServer::start_with(|config| config.guest_idle_days = 30).await;
    let fresh = server.guest_cookie("Fresh").await;
    let stale = server.guest_cookie("Stale").await;
    let account = server
        .account_cookie("Keeper", "correct horse battery")
        .await;
    age(&server, "Fresh", 29).await;
    age(&server, "Stale", 31).await;
    age(&server, "Keeper", 400).await;
    assert_eq!(who(&server, &fresh).await.as_deref(), Some("Fresh"));
    assert_eq!(who(&server, &stale).await, None);
    assert_eq!(who(&server, &account).await.as_deref(), Some("Keeper"));
    // Its row went with it: the cookie does not come back to life.
    server
        .execute_sql("UPDATE sessions SET seen_at = 9999999999999 WHERE kind = 'guest'")
        .await;
    assert_eq!(who(&server, &stale).await, None);
    // A socket with the stale cookie is an anonymous guest, not "Stale".
    let mut client = server.client_with_cookie(&stale).await;
    client.join(None).await;
    client.say("after-expiry", "who am I").await;
    assert_ne!(client.next_message().await.user.name, "Stale");
}

#[tokio::test]
async fn the_sweep_deletes_idle_guests_that_never_come_back_and_nothing_else() {
    let server = TestServer::start_with(|config| config.guest_idle_days = 30).await;
    let gone = [
        server.guest_cookie("Gone1").await,
        server.guest_cookie("Gone2").await,
    ];
    let kept = server.guest_cookie("Kept").await;
    let account = server
        .account_cookie("Owner", "correct horse battery")
        .await;
    age(&server, "Gone1", 45).await;
    age(&server, "Gone2", 31).await;
    age(&server, "Owner", 90).await;
    assert_eq!(server.state.auth.sweep_idle_guests().await.unwrap(), 2);
    assert_eq!(server.state.auth.sweep_idle_guests().await.unwrap(), 0);
    // Swept rows are gone even if their clocks were put back.
    server
        .execute_sql("UPDATE sessions SET seen_at = 9999999999999")
        .await;
    for cookie in &gone {
        assert_eq!(who(&server, cookie).await, None);
    }
    assert_eq!(who(&server, &kept).await.as_deref(), Some("Kept"));
    assert_eq!(who(&server, &account).await.as_deref(), Some("Owner"));
}

#[tokio::test]
async fn a_session_in_use_keeps_its_last_use_fresh() {
    let server = TestServer::start_with(|config| config.guest_idle_days = 30).await;
    let cookie = server.guest_cookie("Regular").await;
    // Last used two hours ago: past the hour after which a use is recorded.
    let two_hours_ago = unix_millis() - 2 * 60 * 60 * 1000;
    server
        .execute_sql(&format!("UPDATE sessions SET seen_at = {two_hours_ago}"))
        .await;
    assert_eq!(who(&server, &cookie).await.as_deref(), Some("Regular"));
    // Recorded: a sweep of everything unused for the last hour leaves it alone.
    let hour_ago = unix_millis() - 60 * 60 * 1000;
    server
        .execute_sql(&format!("DELETE FROM sessions WHERE seen_at < {hour_ago}"))
        .await;
    assert_eq!(who(&server, &cookie).await.as_deref(), Some("Regular"));
}

#[tokio::test]
async fn with_no_limit_guests_are_kept_for_ever() {
    let server = TestServer::start_with(|config| config.guest_idle_days = 0).await;
    let cookie = server.guest_cookie("Forever").await;
    age(&server, "Forever", 3650).await;
    assert_eq!(server.state.auth.sweep_idle_guests().await.unwrap(), 0);
    assert_eq!(who(&server, &cookie).await.as_deref(), Some("Forever"));
}
