//! The rules that keep strangers out: Origin on the upgrade, per-room authorization, rate
//! limits, socket caps per person and per client address (believing a forwarded address
//! only from a trusted proxy), sessions that logging out ends, guests that can be
//! switched off.

mod common;

use common::{upgrade_from, Client, TestServer, PATIENCE};
use huddle::protocol::{close_code, ClientFrame, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

/// The HTTP status an upgrade with these headers is answered with (101 if it upgraded).
async fn upgrade_status(server: &TestServer, headers: &[(&str, &str)]) -> u16 {
    let mut request = server.ws_url().into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected upgrade error: {other}"),
    }
}

#[tokio::test]
async fn a_page_from_another_origin_is_refused_with_403_and_the_own_origin_is_not() {
    let server = TestServer::start().await;
    let own = format!("http://{}", server.addr);
    assert_eq!(
        upgrade_status(&server, &[("origin", "https://evil.example")]).await,
        403
    );
    assert_eq!(upgrade_status(&server, &[("origin", "null")]).await, 403);
    assert_eq!(upgrade_status(&server, &[("origin", &own)]).await, 101);
    assert_eq!(
        upgrade_status(&server, &[]).await,
        101,
        "no Origin: not a browser"
    );

    let listed = TestServer::start_with(|config| {
        config.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    assert_eq!(
        upgrade_status(&listed, &[("origin", "https://app.example.com")]).await,
        101
    );
    assert_eq!(
        upgrade_status(&listed, &[("origin", "https://evil.example")]).await,
        403
    );
}

#[tokio::test]
async fn a_flood_is_answered_with_rate_limited_and_only_allowed_messages_are_stored() {
    let server = TestServer::start_with(|config| {
        config.rate_limit_per_sec = 1;
        config.rate_limit_burst = 5;
    })
    .await;
    let mut flooder = server.client().await;
    for n in 0..8 {
        flooder.say(&format!("f-{n}"), "flood").await;
    }
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < 8 {
        match flooder.next_frame().await {
            ServerFrame::Ack { client_id, .. } => acked.push(client_id),
            ServerFrame::Error { code, message } => {
                assert_eq!(code, ErrorCode::RateLimited, "{message}");
                assert!(message.contains("retry in"), "{message}");
                assert!(
                    message.contains("client_id"),
                    "says how to resend: {message}"
                );
                limited.push(message);
            }
            ServerFrame::Message(_) | ServerFrame::Ping { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acked.len(), 5, "the burst passes: {acked:?}");
    assert_eq!(limited.len(), 3, "the rest is refused, not dropped");
    assert_eq!(server.stored_messages().await.len(), 5);
}

#[tokio::test]
async fn a_person_may_hold_only_the_capped_number_of_sockets() {
    let server = TestServer::start_with(|config| config.max_sockets_per_user = 2).await;
    let cookie = server.guest_cookie("Tabby").await;
    let first = server.client_with_cookie(&cookie).await;
    let _second = server.client_with_cookie(&cookie).await;
    assert_eq!(upgrade_status(&server, &[("cookie", &cookie)]).await, 429);
    // Someone else is not affected.
    let _other = server.client().await;
    // A closed tab gives its place back (once the server has seen it go).
    drop(first);
    let reopened = tokio::time::timeout(PATIENCE, async {
        loop {
            if upgrade_status(&server, &[("cookie", &cookie)]).await == 101 {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(reopened.is_ok(), "the place came back");
}

#[tokio::test]
async fn an_address_may_hold_only_the_capped_number_of_sockets_signed_in_or_not() {
    let server = TestServer::start_with(|config| config.max_sockets_per_address = 2).await;
    let url = server.ws_url();
    let cookie = server.guest_cookie("Tabby").await;
    // An anonymous raw client and a signed-in one from the same address.
    let anonymous = upgrade_from("127.0.0.2", &url, &[]).await.unwrap();
    let _signed_in = upgrade_from("127.0.0.2", &url, &[("cookie", &cookie)])
        .await
        .unwrap();
    for headers in [vec![], vec![("cookie", cookie.as_str())]] {
        let (status, why) = upgrade_from("127.0.0.2", &url, &headers).await.unwrap_err();
        assert_eq!(status, 429);
        assert!(
            why.contains("too many open sockets from this address"),
            "{why}"
        );
    }
    // Another address is not affected, and the cap per person is separate.
    let _elsewhere = upgrade_from("127.0.0.3", &url, &[("cookie", &cookie)])
        .await
        .unwrap();
    // A closed socket gives its place back, once the server has seen it go.
    drop(anonymous);
    let reopened = tokio::time::timeout(PATIENCE, async {
        while upgrade_from("127.0.0.2", &url, &[]).await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(reopened.is_ok(), "the place came back");
}

#[tokio::test]
async fn a_forwarded_address_counts_only_when_a_trusted_proxy_forwards_it() {
    let server = TestServer::start_with(|config| {
        config.max_sockets_per_address = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let url = server.ws_url();
    let forwarded = |client| [("x-forwarded-for", client)];
    // From the trusted proxy: each forwarded client has a cap of its own.
    let _first = upgrade_from("127.0.0.1", &url, &forwarded("203.0.113.1"))
        .await
        .unwrap();
    let _second = upgrade_from("127.0.0.1", &url, &forwarded("203.0.113.2"))
        .await
        .unwrap();
    let (status, _) = upgrade_from("127.0.0.1", &url, &forwarded("203.0.113.1"))
        .await
        .unwrap_err();
    assert_eq!(status, 429, "the same forwarded client again");
    // A forged entry left of the one the proxy appended changes nothing.
    let (status, _) = upgrade_from("127.0.0.1", &url, &forwarded("198.51.100.7, 203.0.113.1"))
        .await
        .unwrap_err();
    assert_eq!(status, 429, "counted by the address the proxy saw");
    // From anyone else the header is ignored: the peer's own address counts.
    let _direct = upgrade_from("127.0.0.2", &url, &forwarded("203.0.113.3"))
        .await
        .unwrap();
    let (status, why) = upgrade_from("127.0.0.2", &url, &forwarded("203.0.113.4"))
        .await
        .unwrap_err();
    assert_eq!(
        status, 429,
        "a client cannot name itself someone new: {why}"
    );
}

#[tokio::test]
async fn a_dm_is_invisible_and_closed_to_a_third_person() {
    let server = TestServer::start().await;
    let ada_cookie = server.guest_cookie("Ada").await;
    let bob_cookie = server.guest_cookie("Bob").await;
    let eve_cookie = server.guest_cookie("Eve").await;
    let mut ada = server.client_with_cookie(&ada_cookie).await;
    let mut bob = server.client_with_cookie(&bob_cookie).await;
    let mut eve = server.client_with_cookie(&eve_cookie).await;

    ada.send_frame(&ClientFrame::OpenDm {
        user: bob.me.id.clone(),
    })
    .await;
    let room = match ada.next_frame().await {
        ServerFrame::RoomAdded { room } => {
            assert_eq!(room.with.as_ref(), Some(&bob.me));
            room.name
        }
        other => panic!("expected room_added, got {other:?}"),
    };
    match bob.next_frame().await {
        ServerFrame::RoomAdded { room: added } => {
            assert_eq!(added.name, room);
            assert_eq!(added.with.as_ref(), Some(&ada.me), "Bob sees who opened it");
        }
        other => panic!("expected room_added, got {other:?}"),
    }
    ada.join_room(&room, Some(0)).await;
    bob.join_room(&room, Some(0)).await;
    ada.say_in(&room, "dm-1", "just us").await;
    assert_eq!(bob.next_message().await.text, "just us");

    // Eve can neither join, nor write, nor read its history.
    let (code, _) = eve
        .refused(&format!(r#"{{"type":"join","room":"{room}","since":0}}"#))
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
    let (code, _) = eve
        .refused(&format!(
            r#"{{"type":"send","room":"{room}","client_id":"e","text":"hi"}}"#
        ))
        .await;
    assert_eq!(code, ErrorCode::UnknownRoom);
    for frame in [
        format!(r#"{{"type":"typing","room":"{room}"}}"#),
        format!(r#"{{"type":"read","room":"{room}","seq":1}}"#),
        format!(r#"{{"type":"leave","room":"{room}"}}"#),
    ] {
        assert_eq!(
            eve.refused(&frame).await.0,
            ErrorCode::UnknownRoom,
            "{frame}"
        );
    }
    let http = reqwest::Client::new();
    let url = server.url(&format!("/api/rooms/{room}/messages"));
    for cookie in [Some(&eve_cookie), None] {
        let mut request = http.get(&url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert!(!response.text().await.unwrap().contains("just us"));
    }
    let older = http
        .post(server.url("/api/load_older"))
        .header("cookie", &eve_cookie)
        .form(&[("room", room.as_str())])
        .send()
        .await
        .unwrap();
    assert!(!older.status().is_success(), "{}", older.status());
    assert!(!older.text().await.unwrap().contains("just us"));
    let page = http
        .get(server.url(&format!("/r/{room}")))
        .header("cookie", &eve_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert!(!page.text().await.unwrap().contains("just us"));
    // Its members read it.
    let response = http
        .get(&url)
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("just us"));
    // A made-up DM name is refused the same way, so names reveal nothing.
    let (code, _) = eve
        .refused(r#"{"type":"join","room":"dm-0000000000000000000000000000000000000000"}"#)
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn anonymous_raw_clients_cannot_open_dms_and_unknown_people_are_refused() {
    let server = TestServer::start().await;
    let mut raw = server.client().await;
    let named = server
        .client_with_cookie(&server.guest_cookie("Named").await)
        .await;
    let (code, _) = raw
        .refused(&format!(r#"{{"type":"open_dm","user":"{}"}}"#, named.me.id))
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
    let mut ada = server
        .client_with_cookie(&server.guest_cookie("Ada").await)
        .await;
    let (code, _) = ada.refused(r#"{"type":"open_dm","user":"u-nobody"}"#).await;
    assert_eq!(code, ErrorCode::UnknownUser);
}

#[tokio::test]
async fn logging_out_closes_every_socket_of_that_person_and_ends_the_session() {
    let server = TestServer::start().await;
    let cookie = server
        .account_cookie("Grace", "correct horse battery")
        .await;
    let mut tab1 = server.client_with_cookie(&cookie).await;
    let mut tab2 = server.client_with_cookie(&cookie).await;
    let mut someone_else = server.client().await;
    let me = tab1.me.clone();

    let response = reqwest::Client::new()
        .post(server.url("/api/logout"))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    for tab in [&mut tab1, &mut tab2] {
        let close = tab.close_frame().await;
        assert_eq!(u16::from(close.code), close_code::LOGGED_OUT);
    }
    // Others stay connected.
    someone_else.say("still", "here").await;
    assert_eq!(someone_else.next_message().await.client_id, "still");
    // The old cookie no longer names anyone: a new socket is an anonymous guest.
    let after = server.client_with_cookie(&cookie).await;
    assert_ne!(after.me.id, me.id);
    assert!(after.me.name.starts_with("guest-"));
}

#[tokio::test]
async fn accounts_check_passwords_and_names_and_guests_cannot_take_an_account_name() {
    let server = TestServer::start().await;
    let auth = &server.state.auth;
    let (grace, _) = auth
        .register("Grace", "correct horse battery", None)
        .await
        .unwrap();
    let again = auth
        .login("Grace", "correct horse battery", None)
        .await
        .unwrap()
        .0;
    assert_eq!(again.user, grace.user, "logging in finds the same person");
    let wrong = auth
        .login("Grace", "wrong password", None)
        .await
        .unwrap_err();
    assert_eq!(wrong.to_string(), "wrong name or password");
    let nobody = auth.login("Nobody", "whatever123", None).await.unwrap_err();
    assert_eq!(
        nobody.to_string(),
        "wrong name or password",
        "same answer: names are not revealed"
    );
    // No name holds a NUL (PostgreSQL could not even look one up): the same answer, not a
    // database error.
    let nul = auth
        .login("Gra\0ce", "whatever123", None)
        .await
        .unwrap_err();
    assert_eq!(nul.to_string(), "wrong name or password");
    assert!(auth
        .register("grace", "another password", None)
        .await
        .unwrap_err()
        .to_string()
        .contains("taken"));
    assert!(auth
        .register("Short", "1234567", None)
        .await
        .unwrap_err()
        .to_string()
        .contains("password"));
    let guest = auth
        .choose_guest_name("GRACE", None, None)
        .await
        .unwrap_err();
    assert!(
        guest.to_string().contains("belongs to an account"),
        "{guest}"
    );
    // A session cookie with a forged signature is nobody.
    let cookie = server
        .account_cookie("Forger", "correct horse battery")
        .await;
    let last = if cookie.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
    let forged_client = server.client_with_cookie(&forged).await;
    assert!(forged_client.me.name.starts_with("guest-"));
}

#[tokio::test]
async fn with_guests_switched_off_only_accounts_connect() {
    let server = TestServer::start_with(|config| config.guests = false).await;
    assert_eq!(upgrade_status(&server, &[]).await, 401);
    let history = reqwest::get(server.url("/api/rooms/lobby/messages"))
        .await
        .unwrap();
    assert_eq!(history.status(), 401);
    assert!(server
        .state
        .auth
        .choose_guest_name("Guest", None, None)
        .await
        .is_err());
    let cookie = server
        .account_cookie("Member", "correct horse battery")
        .await;
    let mut member = Client::connect(&server.ws_url(), Some(&cookie)).await;
    member.say("m", "members only").await;
    assert_eq!(member.next_message().await.user.name, "Member");
}

#[tokio::test]
async fn a_typing_frame_for_a_room_not_joined_is_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let (code, _) = client
        .refused(r#"{"type":"typing","room":"elsewhere"}"#)
        .await;
    assert_eq!(code, ErrorCode::UnknownRoom);
    let (code, _) = client
        .refused(r#"{"type":"read","room":"lobby","seq":-1}"#)
        .await;
    assert_eq!(code, ErrorCode::InvalidSeq);
    // Still connected and chatting.
    client.say("ok", "fine").await;
    assert_eq!(client.next_message().await.client_id, "ok");
}

#[tokio::test]
async fn a_form_on_another_site_cannot_log_a_visitor_in_or_out() {
    let server = TestServer::start().await;
    let cookie = server
        .account_cookie("Victim", "correct horse battery")
        .await;
    let http = reqwest::Client::new();
    for (path, form) in [
        ("/api/logout", vec![]),
        (
            "/api/login",
            vec![("name", "Attacker"), ("password", "attacker password")],
        ),
        ("/api/choose_name", vec![("name", "Renamed")]),
    ] {
        let response = http
            .post(server.url(path))
            .header("origin", "https://evil.example")
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        assert!(response.headers().get("set-cookie").is_none(), "{path}");
    }
    // The session still works.
    let client = server.client_with_cookie(&cookie).await;
    assert_eq!(client.me.name, "Victim");
}

#[tokio::test]
async fn after_five_wrong_passwords_a_name_refuses_even_the_right_one_for_a_while() {
    let server = TestServer::start().await;
    let owner = server
        .account_cookie("Grace", "correct horse battery")
        .await;
    let http = reqwest::Client::new();
    let login = |name: &'static str, password: &'static str| {
        http.post(server.url("/api/login"))
            .form(&[("name", name), ("password", password)])
            .send()
    };
    for guess in [
        "guess one",
        "guess two",
        "guess three",
        "guess four",
        "guess five",
    ] {
        let response = login("grace", guess).await.unwrap();
        assert!(!response.status().is_success());
        assert!(response.headers().get("set-cookie").is_none());
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("wrong name or password"));
    }
    let locked = login("Grace", "correct horse battery").await.unwrap();
    assert!(!locked.status().is_success());
    assert!(locked.headers().get("set-cookie").is_none());
    let said = locked.text().await.unwrap();
    assert!(
        said.contains("too many failed logins for this name; try again in 15 min"),
        "{said}"
    );
    // Other accounts are not affected, and Grace's open session keeps working.
    server.account_cookie("Ada", "analytical engine").await;
    let ada = login("Ada", "analytical engine").await.unwrap();
    assert!(ada.status().is_success(), "{}", ada.text().await.unwrap());
    let mut grace = server.client_with_cookie(&owner).await;
    assert_eq!(grace.me.name, "Grace");
    grace.say("still-here", "still here").await;
    assert_eq!(grace.next_message().await.text, "still here");
}
