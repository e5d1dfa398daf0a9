//! Huddle without JavaScript: the composer's form posts a message and sends the browser back
//! to the room; the "Load older messages" form pages back through history; the "Open a room"
//! form goes to the room. Each as a browser with scripting off sends it: plain form requests
//! that accept HTML, with the page as Referer.

mod common;

use common::{browser, TestServer};
use reqwest::StatusCode;

/// Posts the composer's form from the page `page` with `cookie` (if any).
async fn post_form(
    server: &TestServer,
    page: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = browser()
        .post(server.url("/api/post_message"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", format!("http://{}", server.addr))
        .header("referer", server.url(page))
        .form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// A page as a browser without JavaScript gets it: its status and HTML.
async fn get(server: &TestServer, path: &str) -> (StatusCode, String) {
    get_as(&server.url(path), "").await
}

/// [`get`] of a whole `url` with `cookie` ("" for none).
async fn get_as(url: &str, cookie: &str) -> (StatusCode, String) {
    let response = browser()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Where a response sends the browser.
fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_posted_form_is_stored_once_reaches_the_room_live_and_sends_the_browser_back() {
    let server = TestServer::start().await;
    let cookie = server.guest_cookie("Nojs").await;
    let mut reader = server.client().await;
    reader.join_room("general", None).await;
    let fields = [
        ("room", "general"),
        ("text", "posted by a form"),
        ("client_id", "form-1"),
    ];
    let response = post_form(&server, "/r/general", Some(&cookie), &fields).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(location(&response), server.url("/r/general"));

    let live = reader.next_message().await;
    assert_eq!(
        (live.room.as_str(), live.text.as_str()),
        ("general", "posted by a form")
    );
    assert_eq!(live.user.name, "Nojs");
    // The page the browser is sent back to shows it.
    let page = get_as(&server.url("/r/general"), &cookie).await.1;
    assert!(page.contains("posted by a form"), "{page}");
    // The same form sent again (a double click, a resent request) is stored once.
    let again = post_form(&server, "/r/general", Some(&cookie), &fields).await;
    assert!(again.status().is_redirection());
    let stored = server
        .state
        .store
        .range("general", 0, u64::MAX)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    // The room is on the poster's list, as a socket's join would have put it.
    let lobby = get_as(&server.url("/"), &cookie).await.1;
    assert!(lobby.contains("# general"), "{lobby}");
}

#[tokio::test]
async fn a_refused_post_stores_nothing_and_sends_the_browser_back_with_the_reason() {
    let server = TestServer::start().await;
    let cookie = server.guest_cookie("Nojs").await;
    let other = server.guest_cookie("Other").await;
    let third = server.guest_cookie("Third").await;
    // A DM of two other people.
    let (a, b) = (
        server.client_with_cookie(&other).await,
        server.client_with_cookie(&third).await,
    );
    let dm = server.state.directory.open_dm(&a.me, &b.me).await.unwrap();
    // Who posts, the form's fields, and the reason the page then shows.
    type Case<'a> = (Option<&'a str>, [(&'a str, &'a str); 3], &'a str);
    let cases: Vec<Case> = vec![
        (
            None,
            [
                ("room", "lobby"),
                ("text", "anonymous"),
                ("client_id", "f1"),
            ],
            "",
        ),
        (
            Some(&cookie),
            [("room", "lobby"), ("text", "   "), ("client_id", "f2")],
            "message text is empty",
        ),
        (
            Some(&cookie),
            [("room", "No Such!"), ("text", "hi"), ("client_id", "f3")],
            "a room name is",
        ),
        (
            Some(&cookie),
            [("room", &dm), ("text", "let me in"), ("client_id", "f4")],
            "is private",
        ),
    ];
    let rooms = ["lobby", "no-such", dm.as_str()];
    for (cookie, fields, reason) in cases {
        let response = post_form(&server, "/", cookie, &fields).await;
        assert!(response.status().is_redirection(), "{fields:?}");
        let back = location(&response);
        assert!(back.starts_with(&server.url("/?")), "{back}");
        assert!(
            back.contains("__err="),
            "the reason travels with the browser: {back}"
        );
        // The page it is sent to says why, under the composer. (A visitor without a name
        // has no composer, only the name picker: a post comes from elsewhere.)
        let Some(cookie) = cookie else { continue };
        let page = get_as(&back, cookie).await.1;
        assert!(
            page.contains(reason),
            "{fields:?}: {reason:?} not in the page"
        );
    }
    for room in rooms {
        let stored = server.state.store.range(room, 0, u64::MAX).await.unwrap();
        assert!(stored.is_empty(), "{room}: {stored:?}");
    }

    // A form on another site cannot post in someone's name.
    let forged = browser()
        .post(server.url("/api/post_message"))
        .header("origin", "https://evil.example")
        .header("cookie", &cookie)
        .form(&[("room", "lobby"), ("text", "forged"), ("client_id", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(server.stored_messages().await.is_empty());
}

#[tokio::test]
async fn the_older_messages_form_pages_back_and_the_open_a_room_form_goes_there() {
    let server = TestServer::start_with(|config| config.rate_limit_per_sec = 0).await;
    let mut alice = server.client().await;
    for n in 1..=60 {
        alice
            .say(&format!("c{n}"), &format!("message number {n:02}"))
            .await;
    }
    alice.ack_for("c60").await;
    let (status, latest) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(latest.contains("message number 60"));
    assert!(
        !latest.contains("message number 10"),
        "only the latest page"
    );
    assert!(
        latest.contains(r#"name="before" value="11""#),
        "the form asks for before 11"
    );
    let (status, older) = get(&server, "/?before=11").await;
    assert_eq!(status, 200);
    assert!(older.contains("message number 01") && older.contains("message number 10"));
    assert!(
        !older.contains("message number 11"),
        "the page before seq 11 only"
    );
    let (status, why) = get(&server, "/?before=soon").await;
    assert_eq!(status, 400);
    assert!(why.contains("before must be a whole number"), "{why}");

    let open = browser()
        .get(server.url("/r?room=Team-Chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&open), "/r/team-chat");
    for bad in ["/r?room=no%20spaces", "/r?room=dm-sneaky", "/r"] {
        let (status, why) = get(&server, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(why.contains("A room name is"), "{why}");
    }
}
