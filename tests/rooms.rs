//! Rooms beyond the lobby: created by joining, each with its own members, seqs and history.

mod common;

use common::TestServer;
use huddle::protocol::HistoryPage;

#[tokio::test]
async fn a_room_comes_into_being_when_joined_and_keeps_its_messages_to_its_members() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    let mut lobby_only = server.client().await;

    assert!(alice.join_room("team-1", Some(0)).await.is_empty());
    assert!(bob.join_room("team-1", None).await.is_empty());
    alice.say_in("team-1", "t-1", "in the team room").await;
    let seen_by_bob = bob.next_message().await;
    assert_eq!(
        (seen_by_bob.room.as_str(), seen_by_bob.seq),
        ("team-1", 1),
        "a room numbers its own messages from 1"
    );
    assert_eq!(alice.next_message().await.id, seen_by_bob.id);

    // The lobby's members never see it: the next thing they get is a lobby message.
    bob.say("l-1", "in the lobby").await;
    let in_lobby = lobby_only.next_message().await;
    assert_eq!(
        (in_lobby.room.as_str(), in_lobby.client_id.as_str()),
        ("lobby", "l-1")
    );

    // Its history is served like the lobby's, and a late joiner catches up from it.
    let page: HistoryPage = reqwest::get(server.url("/api/rooms/team-1/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    let caught_up = lobby_only.join_room("team-1", Some(0)).await;
    assert_eq!(caught_up.len(), 1);
    assert_eq!(caught_up[0].id, seen_by_bob.id);
}

#[tokio::test]
async fn a_room_with_history_continues_its_seqs_after_a_restart() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.join_room("kept", None).await;
    alice.say_in("kept", "k-1", "one").await;
    alice.ack_for("k-1").await;
    drop(alice);

    let server = server.restart().await;
    let mut alice = server.client().await;
    let caught_up = alice.join_room("kept", Some(0)).await;
    assert_eq!(caught_up.len(), 1);
    alice.say_in("kept", "k-2", "two").await;
    assert_eq!(alice.ack_for("k-2").await.1, 2, "seq 2, not a second seq 1");
}

#[tokio::test]
async fn sending_to_a_room_not_joined_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let (code, message) = alice
        .refused(r#"{"type":"send","room":"elsewhere","client_id":"c","text":"x"}"#)
        .await;
    assert_eq!(code, huddle::protocol::ErrorCode::UnknownRoom);
    assert!(message.contains("join"), "{message}");
    assert!(server.stored_messages().await.is_empty());
}
