//! The server-rendered page and the name form, fetched as a browser without JavaScript would.

mod common;

use common::TestServer;

async fn get_page(server: &TestServer, cookie: Option<&str>) -> String {
    let client = reqwest::Client::new();
    let mut request = client.get(server.url("/"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_page_shows_the_room_and_its_recent_messages_without_javascript() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("c-1", "first words").await;
    alice.next_message().await;
    alice.say("c-2", "second words").await;
    alice.next_message().await;

    let html = get_page(&server, None).await;
    assert!(html.contains("lobby"), "room name missing");
    assert!(html.contains(r#"role="log""#));
    let first = html.find("first words").expect("first message rendered");
    let second = html.find("second words").expect("second message rendered");
    assert!(first < second, "oldest first");
    assert!(html.contains(&alice.me.name));
    assert!(html.contains(r#"role="status""#));
    assert!(html.contains(r#"data-ready-state="0""#));
}

#[tokio::test]
async fn message_text_is_rendered_as_text_not_markup() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("c-x", "<img src=x onerror=alert(1)>").await;
    alice.next_message().await;
    let html = get_page(&server, None).await;
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "escaped text expected"
    );
    assert!(
        !html.contains("<img src=x"),
        "raw markup must never reach the page"
    );
}

#[tokio::test]
async fn without_a_name_the_page_asks_for_one_and_with_one_it_shows_the_composer() {
    let server = TestServer::start().await;
    let anonymous = get_page(&server, None).await;
    assert!(anonymous.contains(r#"aria-label="Display name""#));
    assert!(!anonymous.contains(r#"aria-label="Message""#));

    let cookie = server.guest_cookie("Grace").await;
    let named = get_page(&server, Some(&cookie)).await;
    assert!(named.contains(r#"aria-label="Message""#));
    assert!(!named.contains(r#"aria-label="Display name""#));
}

#[tokio::test]
async fn choosing_a_name_sets_an_http_only_session_cookie_that_the_socket_then_uses() {
    let server = TestServer::start().await;
    let client = common::browser();
    let response = client
        .post(server.url("/api/choose_name"))
        .header("accept", "application/json")
        .form(&[("name", "  Grace Hopper ")])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 1, "one session cookie: {cookies:?}");
    assert!(cookies
        .iter()
        .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")));
    let cookie_header: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let mut grace = server.client_with_cookie(&cookie_header.join("; ")).await;
    assert_eq!(grace.me.name, "Grace Hopper");
    grace.say("c", "hello").await;
    assert_eq!(grace.next_message().await.user.name, "Grace Hopper");
}

#[tokio::test]
async fn an_invalid_name_is_refused_and_sets_no_cookie() {
    let server = TestServer::start().await;
    let response = reqwest::Client::new()
        .post(server.url("/api/choose_name"))
        .header("accept", "application/json")
        .form(&[("name", "   ")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_server_error() || response.status().is_client_error());
    assert!(response.headers().get("set-cookie").is_none());
    let body = response.text().await.unwrap();
    assert!(body.contains("display name"), "{body}");
}

#[tokio::test]
async fn a_room_that_cannot_be_shown_gets_an_error_page_with_the_status_that_says_why() {
    let server = TestServer::start().await;
    let bad_name = reqwest::get(server.url("/r/Not%20A%20Room")).await.unwrap();
    assert_eq!(bad_name.status(), 404);
    let html = bad_name.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#), "{html}");
    assert!(html.contains("is not a room name"), "{html}");

    let members_only = TestServer::start_with(|config| config.guests = false).await;
    let anonymous = reqwest::get(members_only.url("/r/general")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous
        .text()
        .await
        .unwrap()
        .contains("Log in to read this room."));
}

#[tokio::test]
async fn a_room_page_by_name_shows_that_room() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.join_room("general", None).await;
    alice.say_in("general", "g-1", "said in general").await;
    alice.next_message().await;
    let html = reqwest::get(server.url("/r/general"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("# general"), "{html}");
    assert!(html.contains("said in general"), "{html}");
}

#[tokio::test]
async fn when_history_cannot_be_read_the_page_says_so_with_503_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.say("c-1", "kept safe").await;
    alice.next_message().await;
    // Take the messages table out from under the server, as a broken disk would.
    server
        .execute_sql("ALTER TABLE messages RENAME TO messages_away")
        .await;
    let broken = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(broken.status(), 503);
    let html = broken.text().await.unwrap();
    assert!(html.contains("could not read this room"), "{html}");
    assert!(!html.contains("kept safe"));
    // Put it back: nothing was lost, and the next load shows it.
    server
        .execute_sql("ALTER TABLE messages_away RENAME TO messages")
        .await;
    assert!(get_page(&server, None).await.contains("kept safe"));
}
