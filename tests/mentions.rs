//! `@name` mentions as the server renders them: a badge of their own in the room list (from
//! the stored read positions, so it survives a reload), the tab's title, the mention marked in
//! the message, in rooms and DMs alike, and names that look like markup or like other names.

mod common;

use common::TestServer;
use huddle::protocol::{ClientFrame, ServerFrame};

async fn page(server: &TestServer, path: &str, cookie: &str) -> String {
    let response = reqwest::Client::new()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn unread_mentions_have_their_own_badge_and_title_until_read_in_rooms_and_dms() {
    let server = TestServer::start_with(|config| config.rate_limit_per_sec = 0).await;
    let ada_cookie = server.guest_cookie("Ada").await;
    let bob_cookie = server.guest_cookie("Bob").await;
    let mut ada = server.client_with_cookie(&ada_cookie).await;
    let mut bob = server.client_with_cookie(&bob_cookie).await;
    ada.join_room("general", None).await;
    bob.join_room("general", None).await;
    for (n, text) in [
        "@Bob look",
        "hello all",
        "@Bobby is someone else",
        "again @bob.",
    ]
    .into_iter()
    .enumerate()
    {
        ada.say_in("general", &format!("g{n}"), text).await;
        ada.ack_for(&format!("g{n}")).await;
    }
    let lobby = page(&server, "/", &bob_cookie).await;
    assert!(lobby.contains(r#"aria-label="4 unread""#), "{lobby}");
    assert!(
        lobby.contains(r#"aria-label="2 mentions of you""#),
        "{lobby}"
    );
    assert!(lobby.contains("<title>(@2) Huddle</title>"), "{lobby}");
    // Ada's own page: her messages mention Bob, not her.
    let adas = page(&server, "/", &ada_cookie).await;
    assert!(!adas.contains("mentions of you") && !adas.contains("mention of you"));

    // In the room, the mentions are marked; the other message is not.
    let room = page(&server, "/r/general", &bob_cookie).await;
    assert_eq!(
        room.matches(r#"<mark class="mention">"#).count(),
        2,
        "{room}"
    );
    // (What follows the text is the renderer's hydration marker, or the closing tag.)
    assert!(room.contains(r#"<mark class="mention">@Bob<"#), "{room}");
    assert!(room.contains(r#"<mark class="mention">@bob<"#), "{room}");

    // Read up to the last: gone, on every reload.
    bob.send_frame(&ClientFrame::Read {
        room: "general".into(),
        seq: 4,
    })
    .await;
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    let read_through = loop {
        let lobby = page(&server, "/", &bob_cookie).await;
        if !lobby.contains(r#"aria-label="4 unread""#) {
            break lobby;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never read: {lobby}"
        );
        tokio::task::yield_now().await;
    };
    assert!(!read_through.contains("mentions of you"));
    assert!(read_through.contains("<title>Huddle</title>"));

    // A DM counts the same way.
    ada.send_frame(&ClientFrame::OpenDm {
        user: bob.me.id.clone(),
    })
    .await;
    let dm = loop {
        if let ServerFrame::RoomAdded { room } = ada.next_frame().await {
            break room.name;
        }
    };
    ada.join_room(&dm, Some(0)).await;
    ada.say_in(&dm, "d1", "psst @Bob").await;
    ada.ack_for("d1").await;
    let lobby = page(&server, "/", &bob_cookie).await;
    assert!(
        lobby.contains(r#"aria-label="1 mention of you""#),
        "{lobby}"
    );
}

#[tokio::test]
async fn a_name_that_looks_like_markup_is_mentioned_as_text() {
    let server = TestServer::start().await;
    let eve_cookie = server.guest_cookie("<i>Eve</i>").await;
    let mut ada = server.client().await;
    let eve = server.client_with_cookie(&eve_cookie).await;
    assert_eq!(eve.me.name, "<i>Eve</i>");
    ada.say("m1", "hi @<i>Eve</i>!").await;
    ada.ack_for("m1").await;
    let lobby = page(&server, "/", &eve_cookie).await;
    assert!(
        lobby.contains(r#"<mark class="mention">@&lt;i&gt;Eve&lt;/i&gt;<"#),
        "{lobby}"
    );
    assert!(!lobby.contains("<i>Eve</i>"), "never markup");
}
