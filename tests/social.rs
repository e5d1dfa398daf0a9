//! Presence, typing, room lists with unread counts, and server push from backends.

mod common;

use common::TestServer;
use huddle::protocol::{ClientFrame, RoomKind, ServerFrame, User};
use huddle::server::auth::api_tokens;
use huddle::server::http::push_api::{Notified, Posted};

async fn token(server: &TestServer, name: &str) -> String {
    api_tokens::create(server.state.tokens.as_ref(), name)
        .await
        .unwrap()
}

#[tokio::test]
async fn one_person_with_two_connections_is_counted_online_once() {
    let server = TestServer::start().await;
    let mut watcher = server
        .client_with_cookie(&server.guest_cookie("Watcher").await)
        .await;
    watcher.join_room("team", Some(0)).await;
    match next_presence_in(&mut watcher, "team").await {
        ServerFrame::Members { room, online } => {
            assert_eq!(room, "team");
            assert_eq!(online, vec![watcher.me.clone()]);
        }
        other => panic!("expected members, got {other:?}"),
    }
    let ada_cookie = server.guest_cookie("Ada").await;
    let mut tab1 = server.client_with_cookie(&ada_cookie).await;
    let mut tab2 = server.client_with_cookie(&ada_cookie).await;
    tab1.join_room("team", Some(0)).await;
    tab2.join_room("team", Some(0)).await;
    match next_presence_in(&mut tab2, "team").await {
        ServerFrame::Members { online, .. } => {
            assert_eq!(online.len(), 2, "Ada once, and the watcher: {online:?}");
        }
        other => panic!("expected members, got {other:?}"),
    }
    assert_eq!(server.state.hub.online_count("team"), 2);
    assert_eq!(
        next_presence_in(&mut watcher, "team").await,
        ServerFrame::Presence {
            room: "team".into(),
            user: tab1.me.clone(),
            online: true
        }
    );
    // Closing one tab changes nothing; the last one takes Ada offline.
    let ada = tab1.me.clone();
    drop(tab1);
    tokio::time::timeout(common::PATIENCE, async {
        while server.state.hub.member_count("team") > 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the server sees the first tab go");
    // Anything the departure had announced would come before this marker.
    watcher.say_in("team", "marker", "still here?").await;
    assert_eq!(watcher.next_message().await.client_id, "marker");
    assert!(
        !watcher
            .presence
            .iter()
            .any(|f| matches!(f, ServerFrame::Presence { room, .. } if room == "team")),
        "Ada still has a tab open: {:?}",
        watcher.presence
    );
    drop(tab2);
    assert_eq!(
        next_presence_in(&mut watcher, "team").await,
        ServerFrame::Presence {
            room: "team".into(),
            user: ada,
            online: false
        },
        "one offline notice, after the last tab"
    );
    assert!(
        !watcher
            .presence
            .iter()
            .any(|f| matches!(f, ServerFrame::Presence { room, .. } if room == "team")),
        "no second notice: {:?}",
        watcher.presence
    );
}

/// The next presence frame about `room` (every connection is in the lobby too).
async fn next_presence_in(client: &mut common::Client, room: &str) -> ServerFrame {
    loop {
        let frame = client.next_presence().await;
        let about = match &frame {
            ServerFrame::Presence { room, .. }
            | ServerFrame::Members { room, .. }
            | ServerFrame::Typing { room, .. } => room,
            _ => unreachable!("only presence frames"),
        };
        if about == room {
            return frame;
        }
    }
}

#[tokio::test]
async fn typing_is_relayed_to_the_others_in_the_room() {
    let server = TestServer::start().await;
    let mut ada = server.client().await;
    let mut bob = server.client().await;
    ada.join_room("team", None).await;
    bob.join_room("team", None).await;
    ada.send_frame(&ClientFrame::Typing {
        room: "team".into(),
    })
    .await;
    loop {
        match next_presence_in(&mut bob, "team").await {
            ServerFrame::Typing { room, user } => {
                assert_eq!((room.as_str(), &user), ("team", &ada.me));
                break;
            }
            ServerFrame::Members { .. } | ServerFrame::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_room_list_counts_unread_messages_until_read_and_leave_takes_a_room_off() {
    let server = TestServer::start().await;
    let cookie = server.guest_cookie("Reader").await;
    let mut reader = server.client_with_cookie(&cookie).await;
    let mut writer = server.client().await;
    reader.join_room("news", Some(0)).await;
    writer.join_room("news", Some(0)).await;
    for n in 1..=3 {
        writer.say_in("news", &format!("n-{n}"), "news").await;
    }
    writer.ack_for("n-3").await;
    let list = |server: &TestServer, user: User| {
        let state = server.state.clone();
        async move {
            let hub = state.hub.clone();
            state
                .directory
                .room_list(&user, |room| hub.head(room))
                .await
                .unwrap()
        }
    };
    let rooms = list(&server, reader.me.clone()).await;
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lobby", "news"], "the lobby first");
    assert_eq!(rooms[1].unread, 3);
    assert_eq!(rooms[1].kind, RoomKind::Public);

    reader
        .send_frame(&ClientFrame::Read {
            room: "news".into(),
            seq: 2,
        })
        .await;
    reader
        .send_frame(&ClientFrame::Leave {
            room: "news".into(),
        })
        .await;
    loop {
        match reader.next_frame().await {
            ServerFrame::Left { room } => {
                assert_eq!(room, "news");
                break;
            }
            ServerFrame::Message(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let rooms = list(&server, reader.me.clone()).await;
    assert_eq!(rooms.len(), 1, "left: {rooms:?}");
    // Leaving forgot the read position: rejoined, everything counts as unread again.
    reader.join_room("news", None).await;
    let rooms = list(&server, reader.me.clone()).await;
    assert_eq!(rooms[1].unread, 3);
    reader
        .send_frame(&ClientFrame::Read {
            room: "news".into(),
            seq: 3,
        })
        .await;
    // The read lands before anything sent after it is answered.
    reader.say_in("news", "after-read", "x").await;
    reader.ack_for("after-read").await;
    let rooms = list(&server, reader.me.clone()).await;
    assert_eq!(rooms[1].unread, 1, "only the message after the read");
}

#[tokio::test]
async fn a_pushed_notice_reaches_every_connected_client_exactly_once() {
    let server = TestServer::start().await;
    let token = token(&server, "deploy-bot").await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(server.client().await);
    }
    let response = reqwest::Client::new()
        .post(server.url("/api/notify"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "Deploy at 18:00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let notified: Notified = response.json().await.unwrap();
    assert_eq!(notified.delivered, 5);
    // A message sent after the push is the next thing everyone gets after the notice: so
    // the notice came once, not twice.
    clients[0].say("marker", "after the notice").await;
    for client in &mut clients {
        match client.next_frame().await {
            ServerFrame::Notice { text, from, .. } => {
                assert_eq!(
                    (text.as_str(), from.as_str()),
                    ("Deploy at 18:00", "deploy-bot")
                );
            }
            other => panic!("expected the notice, got {other:?}"),
        }
        assert_eq!(client.next_message().await.client_id, "marker");
    }
}

#[tokio::test]
async fn a_notice_for_one_person_reaches_only_their_connections() {
    let server = TestServer::start().await;
    let token = token(&server, "pager").await;
    let cookie = server.guest_cookie("Oncall").await;
    let mut phone = server.client_with_cookie(&cookie).await;
    let mut laptop = server.client_with_cookie(&cookie).await;
    let mut bystander = server.client().await;
    let notified: Notified = reqwest::Client::new()
        .post(server.url("/api/notify"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "you are paged", "user": phone.me.id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(notified.delivered, 2);
    for device in [&mut phone, &mut laptop] {
        assert!(matches!(
            device.next_frame().await,
            ServerFrame::Notice { .. }
        ));
    }
    bystander.say("b", "nothing for me").await;
    assert_eq!(bystander.next_message().await.client_id, "b");
}

#[tokio::test]
async fn a_bot_posts_to_a_room_with_a_token_and_its_retry_is_stored_once() {
    let server = TestServer::start().await;
    let token = token(&server, "ci").await;
    let mut reader = server.client().await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value, token: Option<&str>| {
        let mut request = http
            .post(server.url("/api/rooms/lobby/messages"))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let body = serde_json::json!({ "text": "build 42 passed", "client_id": "build-42" });
    let first = post(body.clone(), Some(&token)).await.unwrap();
    assert_eq!(first.status(), 201);
    let posted: Posted = first.json().await.unwrap();
    assert_eq!(posted.seq, 1);
    let message = reader.next_message().await;
    assert_eq!(
        (message.user.name.as_str(), message.text.as_str()),
        ("ci", "build 42 passed")
    );
    let retry = post(body, Some(&token)).await.unwrap();
    assert_eq!(retry.status(), 200, "the first copy, not a second one");
    assert_eq!(retry.json::<Posted>().await.unwrap(), posted);
    assert_eq!(server.stored_messages().await.len(), 1);

    // Every failure path answers clearly and stores nothing.
    let text = serde_json::json!({ "text": "x" });
    assert_eq!(post(text.clone(), None).await.unwrap().status(), 401);
    assert_eq!(
        post(text.clone(), Some("hdl_not-a-token"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(serde_json::json!({ "text": "  " }), Some(&token))
            .await
            .unwrap()
            .status(),
        400
    );
    // A NUL is refused with the socket's code and words, before it could reach the store.
    for (body, code) in [
        (serde_json::json!({ "text": "nul\0" }), "nul_in_text"),
        (
            serde_json::json!({ "text": "x", "client_id": "a\0b" }),
            "invalid_client_id",
        ),
    ] {
        let refused = post(body, Some(&token)).await.unwrap();
        assert_eq!(refused.status(), 400);
        let refused: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(refused["code"], code, "{refused}");
        assert!(
            refused["message"].as_str().unwrap().contains("U+0000"),
            "{refused}"
        );
    }
    assert_eq!(
        post(serde_json::json!({ "txt": "x" }), Some(&token))
            .await
            .unwrap()
            .status(),
        400
    );
    let unknown = http
        .post(server.url("/api/rooms/no-such-room/messages"))
        .bearer_auth(&token)
        .json(&text)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let dm = http
        .post(server.url("/api/rooms/dm-0123/messages"))
        .bearer_auth(&token)
        .json(&text)
        .send()
        .await
        .unwrap();
    assert_eq!(dm.status(), 403);
    // A revoked token stops working at once.
    assert!(api_tokens::revoke(server.state.tokens.as_ref(), "ci")
        .await
        .unwrap());
    assert_eq!(post(text, Some(&token)).await.unwrap().status(), 401);
    assert_eq!(server.stored_messages().await.len(), 1);
}
