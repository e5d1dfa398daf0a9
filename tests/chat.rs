//! Chatting over a real socket: the promises of protocol v1.

mod common;

use common::TestServer;
use futures_util::SinkExt;
use huddle::protocol::{close_code, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_clients_both_receive_a_message_exactly_once() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;

    let alice_user = alice.me.clone();
    alice.say("c-1", "hello bob").await;

    for client in [&mut alice, &mut bob] {
        let message = client.next_message().await;
        assert_eq!(message.text, "hello bob");
        assert_eq!(message.client_id, "c-1");
        assert_eq!(message.room, "lobby");
        assert_eq!(message.user, alice_user);
        assert!(message.ts > 0);
    }
    // Exactly once: the next frame each receives is the marker, not a second copy.
    alice.say("marker", "marker").await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.next_message().await.client_id, "marker");
    }
}

#[tokio::test]
async fn raw_clients_get_distinct_guest_names() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let bob = server.client().await;
    assert!(alice.me.name.starts_with("guest-"), "{:?}", alice.me);
    assert_ne!(alice.me.id, bob.me.id);
    alice.say("c", "who am i").await;
    assert_eq!(alice.next_message().await.user, alice.me);
}

#[tokio::test]
async fn the_session_cookie_names_the_sender() {
    let server = TestServer::start().await;
    let cookie = server.guest_cookie("Ada L").await;
    let mut ada = server.client_with_cookie(&cookie).await;
    assert_eq!(ada.me.name, "Ada L");
    assert!(ada.me.id.starts_with("guest-"), "{:?}", ada.me);
    let again = server.client_with_cookie(&cookie).await;
    assert_eq!(again.me, ada.me, "the session keeps the identity");
    ada.say("c", "hi").await;
    assert_eq!(ada.next_message().await.user.name, "Ada L");
}

#[tokio::test]
async fn a_plain_text_frame_is_broadcast_to_the_lobby() {
    let server = TestServer::start().await;
    let mut plain = server.client().await;
    let mut other = server.client().await;
    plain.send_text("hi").await;
    for client in [&mut plain, &mut other] {
        let message = client.next_message().await;
        assert_eq!(message.text, "hi");
        assert_eq!(message.room, "lobby");
        assert!(
            !message.client_id.is_empty(),
            "the server picks a client_id"
        );
    }
}

#[tokio::test]
async fn malformed_json_gets_an_error_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;

    alice.send_text("{not json").await;
    match alice.next_frame().await {
        ServerFrame::Error { code, message } => {
            assert_eq!(code, ErrorCode::MalformedJson);
            assert!(!message.is_empty());
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    // The same connection still chats, and bob never saw the bad frame.
    alice.say("c-2", "still here").await;
    assert_eq!(alice.next_message().await.text, "still here");
    assert_eq!(bob.next_message().await.text, "still here");
}

#[tokio::test]
async fn a_nul_in_text_or_client_id_is_refused_and_the_others_messages_are_stored() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    // Sent together, so that without the check they would share the committer's batch, which
    // PostgreSQL would refuse as a whole.
    alice
        .send_text(r#"{"type":"send","room":"lobby","client_id":"n","text":"a\u0000b"}"#)
        .await;
    bob.say("b-1", "mine is fine").await;
    alice
        .send_text(r#"{"type":"send","room":"lobby","client_id":"x\u0000","text":"hi"}"#)
        .await;
    alice.send_text("plain\0text").await;
    let mut refusals = Vec::new();
    while refusals.len() < 3 {
        match alice.next_frame().await {
            ServerFrame::Error { code, message } => {
                assert!(message.contains("U+0000"), "{message}");
                refusals.push(code);
            }
            ServerFrame::Message(message) => assert_eq!(message.client_id, "b-1"),
            _ => {}
        }
    }
    assert_eq!(
        refusals,
        [
            ErrorCode::NulInText,
            ErrorCode::InvalidClientId,
            ErrorCode::NulInText
        ]
    );
    assert_eq!(bob.ack_for("b-1").await.1, 1);
    alice.say("a-1", "and mine").await;
    assert_eq!(alice.ack_for("a-1").await.1, 2);
    let texts: Vec<String> = server
        .stored_messages()
        .await
        .into_iter()
        .map(|message| message.text)
        .collect();
    assert_eq!(texts, ["mine is fine", "and mine"]);
}

#[tokio::test]
async fn every_kind_of_bad_frame_gets_its_own_error_code() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let cases = [
        (r#"{"type":"dance"}"#, ErrorCode::UnknownType),
        (
            r#"{"type":"send","room":"lobby","text":"no id"}"#,
            ErrorCode::InvalidFrame,
        ),
        (
            r#"{"type":"send","room":"lobby","client_id":"c","text":"   "}"#,
            ErrorCode::EmptyText,
        ),
        (
            r#"{"type":"send","room":"attic","client_id":"c","text":"x"}"#,
            ErrorCode::UnknownRoom,
        ),
    ];
    for (frame, expected) in cases {
        assert_eq!(alice.refused(frame).await.0, expected, "for {frame}");
    }
    let too_long = format!(
        r#"{{"type":"send","room":"lobby","client_id":"c","text":"{}"}}"#,
        "x".repeat(4_001)
    );
    alice.send_text(&too_long).await;
    assert!(matches!(
        alice.next_frame().await,
        ServerFrame::Error {
            code: ErrorCode::TextTooLong,
            ..
        }
    ));
    alice
        .socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert!(matches!(
        alice.next_frame().await,
        ServerFrame::Error {
            code: ErrorCode::BinaryNotSupported,
            ..
        }
    ));
    // Nothing refused was broadcast: the next frame is our own marker.
    alice.assert_nothing_pending().await;
}

#[tokio::test]
async fn an_oversize_message_closes_the_connection_with_1009() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let limit = server.config.max_message_bytes;
    alice.send_text(&"x".repeat(limit + 1)).await;
    let close = alice.close_frame().await;
    assert_eq!(u16::from(close.code), close_code::MESSAGE_TOO_BIG);
    // Others are unaffected.
    let mut bob = server.client().await;
    bob.say("c", "fine").await;
    assert_eq!(bob.next_message().await.text, "fine");
}

#[tokio::test]
async fn invalid_utf8_closes_the_connection_with_1007() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let frame = Frame::message(vec![0xC3, 0x28], OpCode::Data(Data::Text), true);
    alice.socket.send(Message::Frame(frame)).await.unwrap();
    let close = alice.close_frame().await;
    assert_eq!(u16::from(close.code), close_code::INVALID_PAYLOAD);
}

#[tokio::test]
async fn a_client_close_is_answered_and_the_connection_ends_cleanly() {
    use futures_util::StreamExt;
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice.socket.close(None).await.unwrap();
    // The server answers with its own close frame, then the stream ends without error.
    let mut saw_close = false;
    while let Some(message) = alice.socket.next().await {
        match message {
            Ok(Message::Close(_)) => saw_close = true,
            Ok(_) => {}
            Err(err) => panic!("unclean close: {err}"),
        }
    }
    assert!(saw_close, "the server must answer the close frame");
}

#[tokio::test]
async fn shutdown_closes_every_client_with_1012() {
    let mut server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(server.client().await);
    }
    let (result, closes) = tokio::join!(server.shutdown(), async {
        let mut codes = Vec::new();
        for client in &mut clients {
            codes.push(u16::from(client.close_frame().await.code));
        }
        codes
    });
    result.unwrap();
    assert_eq!(closes, vec![close_code::SERVICE_RESTART; 5]);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4008_and_others_are_unaffected() {
    let server = TestServer::start_with(|config| {
        config.queue_capacity = 128;
        config.rate_limit_per_sec = 0; // a flood is the point
    })
    .await;
    let mut sender = server.client().await;
    let mut stalled = server.client().await;

    // Enough data to fill the stalled client's kernel buffers (its receive window and the
    // server's bounded unsent bytes), after which its queue overflows and the hub evicts it.
    let total = sender
        .flood_while(50, 10_000, || server.state.hub.member_count("lobby") > 1)
        .await;
    // Now the stalled client reads again, within the close handshake's bound: some
    // messages, in order, then the close that tells it it missed the rest.
    let mut received = 0;
    let close = loop {
        match stalled.next_raw().await {
            Message::Text(_) => received += 1,
            Message::Close(Some(frame)) => break frame,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), close_code::TOO_SLOW);
    assert!(
        received < total,
        "the stalled client cannot have received everything"
    );
    // The sender is still a member and still chatting.
    sender.assert_nothing_pending().await;
}

#[tokio::test]
async fn the_diagnostic_echo_route_is_off_by_default() {
    let server = TestServer::start().await;
    let result =
        tokio_tungstenite::connect_async(format!("ws://{}/diagnostic/echo", server.addr)).await;
    assert!(
        result.is_err(),
        "the echo route must not exist unless enabled"
    );
}

#[tokio::test]
async fn the_diagnostic_echo_route_echoes_when_enabled() {
    use futures_util::StreamExt;
    let server = TestServer::start_with(|config| config.diagnostic_echo = true).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/diagnostic/echo", server.addr))
            .await
            .unwrap();
    socket.send(Message::text("ping me")).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::text("ping me")
    );
}

#[tokio::test]
async fn a_stalled_client_with_a_full_window_is_dropped_soon_after_its_queue_overflows() {
    // A client that stopped reading: once the kernel's buffers for it are full (its window,
    // and on the server side the bounded unsent bytes), the server's writes block, so the socket task
    // is stuck in a write when the hub evicts the client. It must give up then, not only at
    // the (here ten minutes) write timeout.
    let server = TestServer::for_floods(64).await;
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2_048).unwrap();
    let stream = tcp.connect(server.addr).await.unwrap();
    let (stalled, _) = tokio_tungstenite::client_async(server.ws_url(), stream)
        .await
        .unwrap();
    let mut sender = server.client().await;
    // Bursts of 32 (group commit; below the queue's 64) until the stalled connection has left
    // the registry; its task ends right after it did.
    sender
        .flood_while(32, 10_000, || server.state.registry.len() > 1)
        .await;
    drop(stalled);
    sender.assert_nothing_pending().await;
}
