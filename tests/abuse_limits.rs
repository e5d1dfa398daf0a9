//! Bounds on what a stranger can create: guest sessions, registrations and logins per client
//! address and minute, rooms per person (or, for anonymous raw clients, per address) and
//! minute. Each refusal says why and when to come back; nothing else is held back.

mod common;

use common::{browser, cookie_pair, Client, TestServer};
use huddle::protocol::{ClientFrame, ErrorCode, ServerFrame};

/// A server function called as the page's script calls it, from this server's origin.
async fn call(
    server: &TestServer,
    function: &str,
    fields: &[(&str, &str)],
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = browser()
        .post(server.url(&format!("/api/{function}")))
        .header("origin", format!("http://{}", server.addr))
        .form(fields);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Asserts `response` is a 429 whose text says `reason` and whose Retry-After is within the
/// minute.
async fn assert_too_fast(response: reqwest::Response, reason: &str) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let text = response.text().await.unwrap();
    assert!(text.contains(reason), "{text:?} does not say {reason:?}");
}

#[tokio::test]
async fn an_address_starts_only_so_many_guest_sessions_a_minute_and_renaming_is_free() {
    let server = TestServer::start_with(|config| config.guests_per_address_per_minute = 3).await;
    let mut first_cookie = None;
    for n in 1..=3 {
        let name = format!("Guest{n}");
        let response = call(&server, "choose_name", &[("name", &name)], None).await;
        assert_eq!(response.status(), 200, "{name}");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        first_cookie.get_or_insert(cookie_pair(&set_cookie));
    }
    let refused = call(&server, "choose_name", &[("name", "Guest4")], None).await;
    assert!(refused.headers().get("set-cookie").is_none());
    assert_too_fast(refused, "too many new guests from your address").await;
    // A guest who has a session may still change their name: no new session.
    let renamed = browser()
        .post(server.url("/api/choose_name"))
        .header("origin", format!("http://{}", server.addr))
        .header("cookie", first_cookie.unwrap())
        .form(&[("name", "Renamed")])
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    // A plain form (no JavaScript) is sent back to its page with the reason, not left on a
    // bare 429.
    let form = browser()
        .post(server.url("/api/choose_name"))
        .header("origin", format!("http://{}", server.addr))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", server.url("/"))
        .form(&[("name", "Guest5")])
        .send()
        .await
        .unwrap();
    assert!(form.status().is_redirection(), "{}", form.status());
    assert!(form.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn an_address_attempts_only_so_many_registrations_a_minute() {
    let server =
        TestServer::start_with(|config| config.registrations_per_address_per_minute = 2).await;
    let password = ("password", "correct horse battery");
    let first = call(&server, "register", &[("name", "Reg1"), password], None).await;
    assert_eq!(first.status(), 200);
    // A taken name counts too: names cannot be probed at speed.
    let taken = call(&server, "register", &[("name", "Reg1"), password], None).await;
    assert_ne!(taken.status(), 200);
    let third = call(&server, "register", &[("name", "Reg3"), password], None).await;
    assert_too_fast(third, "too many registrations from your address").await;
}

#[tokio::test]
async fn an_address_makes_only_so_many_login_attempts_a_minute_on_any_names() {
    let server = TestServer::start_with(|config| config.logins_per_address_per_minute = 3).await;
    server
        .account_cookie("Target", "correct horse battery")
        .await;
    // One password tried on many names: each name sees one failure only.
    for name in ["Ann", "Ben", "Cat"] {
        let response = call(
            &server,
            "login",
            &[("name", name), ("password", "password123")],
            None,
        )
        .await;
        assert_ne!(response.status(), 429, "{name}");
    }
    // Even the right password is refused now, for this address, with the address's reason.
    let right = call(
        &server,
        "login",
        &[("name", "Target"), ("password", "correct horse battery")],
        None,
    )
    .await;
    assert_too_fast(right, "too many logins from your address").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let server = TestServer::start_with(|config| {
        config.guests_per_address_per_minute = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let from = |address| Some(address);
    let ok = call(
        &server,
        "choose_name",
        &[("name", "A1")],
        from("203.0.113.1"),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let again = call(
        &server,
        "choose_name",
        &[("name", "A2")],
        from("203.0.113.1"),
    )
    .await;
    assert_too_fast(again, "too many new guests").await;
    let other = call(
        &server,
        "choose_name",
        &[("name", "B1")],
        from("203.0.113.2"),
    )
    .await;
    assert_eq!(other.status(), 200);
}

/// Sends `join` for `room`: `Ok` once joined, or the error it was refused with.
async fn try_join(client: &mut Client, room: &str) -> Result<(), (ErrorCode, String)> {
    client
        .send_frame(&ClientFrame::Join {
            room: room.into(),
            since: None,
        })
        .await;
    loop {
        match client.next_frame().await {
            ServerFrame::Joined { room: joined, .. } if joined == room => return Ok(()),
            ServerFrame::Error { code, message } => return Err((code, message)),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_person_brings_only_so_many_rooms_into_being_a_minute_and_existing_rooms_stay_open() {
    let server = TestServer::start_with(|config| config.new_rooms_per_minute = 2).await;
    let cookie = server.guest_cookie("Builder").await;
    let mut builder = server.client_with_cookie(&cookie).await;
    assert_eq!(try_join(&mut builder, "new-one").await, Ok(()));
    assert_eq!(try_join(&mut builder, "new-two").await, Ok(()));
    let (code, message) = try_join(&mut builder, "new-three").await.unwrap_err();
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(message.contains("too many new rooms"), "{message}");
    // Rooms that exist are joined as ever, by this person and by others.
    assert_eq!(try_join(&mut builder, "new-one").await, Ok(()));
    let mut other = server
        .client_with_cookie(&server.guest_cookie("Other").await)
        .await;
    assert_eq!(try_join(&mut other, "new-two").await, Ok(()));
    assert_eq!(try_join(&mut other, "their-own").await, Ok(()));
}

#[tokio::test]
async fn anonymous_raw_clients_share_their_addresss_room_budget_across_reconnects() {
    let server = TestServer::start_with(|config| config.new_rooms_per_minute = 2).await;
    let mut first = server.client().await;
    assert_eq!(try_join(&mut first, "raw-one").await, Ok(()));
    drop(first);
    let mut second = server.client().await;
    assert_eq!(try_join(&mut second, "raw-two").await, Ok(()));
    let mut third = server.client().await;
    let (code, _) = try_join(&mut third, "raw-three").await.unwrap_err();
    assert_eq!(code, ErrorCode::RateLimited);
}
