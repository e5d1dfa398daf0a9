//! Rooms in memory are bounded: a room nobody is in leaves the hub and comes back from the
//! store on the next join, with no gap and no duplicate, and when every room kept in memory
//! has members, one more join is refused with `server_busy` rather than growing memory. One
//! connection may be in a bounded number of rooms at once.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use huddle::protocol::{ClientFrame, ErrorCode, ServerFrame};
use huddle::server::rooms::heads::room_head;

/// Waits (within the test's patience) until `done` holds: the sweep runs on its own clock.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn leave(client: &mut Client, room: &str) {
    client
        .send_frame(&ClientFrame::Leave { room: room.into() })
        .await;
    loop {
        match client.next_frame().await {
            ServerFrame::Left { room: left } if left == room => return,
            ServerFrame::Ack { .. } | ServerFrame::Message(_) => {}
            other => panic!("expected left, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unused_room_leaves_memory_and_comes_back_where_its_history_ends() {
    let server = TestServer::start_with(|config| config.room_idle_secs = 0).await;
    let mut writer = server.client().await;
    writer.join_room("team", Some(0)).await;
    for n in 1..=3 {
        writer
            .say_in("team", &format!("t-{n}"), &format!("message {n}"))
            .await;
        writer.ack_for(&format!("t-{n}")).await;
    }
    leave(&mut writer, "team").await;
    until("the room leaves memory", || {
        !server.state.hub.has_room("team")
    })
    .await;
    assert_eq!(
        room_head(&server.state, "team").await.unwrap(),
        3,
        "out of memory, its head comes from the store"
    );
    // History is still served from the store while the room is out of memory.
    let page: serde_json::Value = reqwest::get(server.url("/api/rooms/team/messages"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);

    let mut reader = server.client().await;
    let caught_up = reader.join_room("team", Some(1)).await;
    let seqs: Vec<u64> = caught_up.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3], "what followed the reader's seq, once");
    assert!(
        server.state.hub.has_room("team"),
        "the join brought it back"
    );
    writer.join_room("team", Some(3)).await;
    writer.say_in("team", "t-4", "message 4").await;
    let (_, seq) = writer.ack_for("t-4").await;
    assert_eq!(seq, 4, "seqs go on from the store's head");
    assert_eq!(reader.next_message().await.seq, 4, "live again");
    reader.assert_nothing_pending().await;
}

#[tokio::test]
async fn one_connection_may_be_in_a_bounded_number_of_rooms() {
    let server = TestServer::start_with(|config| config.max_rooms_per_connection = 3).await;
    let mut client = server.client().await;
    client.join_room("one", Some(0)).await;
    client.join_room("two", Some(0)).await; // with the lobby, three
    let (code, message) = client.refused(r#"{"type":"join","room":"three"}"#).await;
    assert_eq!(code, ErrorCode::TooManyRooms, "{message}");
    assert!(message.contains("leave one first"), "{message}");
    client.join_room("two", Some(0)).await; // joining again is no new room
    leave(&mut client, "one").await;
    client.join_room("three", Some(0)).await;
    client.say_in("three", "x-1", "in three").await;
    client.ack_for("x-1").await;
}

#[tokio::test]
async fn when_every_room_in_memory_has_members_one_more_join_is_refused() {
    // The lobby and two more.
    let server = TestServer::start_with(|config| {
        config.max_rooms_in_memory = 3;
        config.room_idle_secs = 3600;
    })
    .await;
    let mut alice = server.client().await;
    alice.join_room("first", Some(0)).await;
    alice.say_in("first", "f-1", "kept").await;
    alice.ack_for("f-1").await;
    alice.join_room("second", Some(0)).await;
    let (code, message) = alice.refused(r#"{"type":"join","room":"third"}"#).await;
    assert_eq!(code, ErrorCode::ServerBusy, "{message}");
    assert!(message.contains("try again later"), "{message}");
    assert!(!server.state.hub.has_room("third"));

    // A room nobody is in makes way at once, however recently used.
    leave(&mut alice, "first").await;
    alice.join_room("third", Some(0)).await;
    assert!(!server.state.hub.has_room("first"));
    // Nothing said in the room that made way is lost.
    leave(&mut alice, "second").await;
    let back = alice.join_room("first", Some(0)).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].text, "kept");
    alice.say("l-1", "the lobby still works").await;
    alice.ack_for("l-1").await;
}
