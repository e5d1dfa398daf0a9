//! A client's text frame, as the connection task parses it: any input is either a request
//! that passes the protocol's checks or a refusal with a code and a reason, never a panic.
#![no_main]

use huddle::protocol::{check_client_id, check_room_name, check_text};
use huddle::server::connection::inbound::{parse_text_frame, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 by the time they are parsed: tungstenite refuses others (1007).
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    match parse_text_frame(frame) {
        Ok(Request::Send(send)) => {
            assert!(check_room_name(&send.room).is_ok(), "{:?}", send.room);
            assert!(check_text(&send.text).is_ok());
            if let Some(client_id) = &send.client_id {
                assert!(check_client_id(client_id).is_ok());
            }
        }
        Ok(_) => {}
        Err(refusal) => assert!(!refusal.message.is_empty()),
    }
});
