//! Bytes after the upgrade, read as the server reads a client's frames: tungstenite with
//! Huddle's socket settings (message and frame limits). Every input ends in messages or an
//! error, never a panic, and no message read is over the limit.
#![no_main]

use std::io::{self, Cursor, Read, Write};

use huddle::server::transport::socket_policy::websocket_config;
use huddle::server::Config;
use libfuzzer_sys::fuzz_target;
use tungstenite::protocol::{Role, WebSocket};

/// A client's half of a connection: what it sent, then nothing more; what the server writes
/// back is dropped.
struct Wire(Cursor<Vec<u8>>);

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::with_database(std::path::PathBuf::from("unused.db"));
    config.max_message_bytes = 4096;
    let limit = config.max_message_bytes;
    let wire = Wire(Cursor::new(data.to_vec()));
    let mut socket =
        WebSocket::from_raw_socket(wire, Role::Server, Some(websocket_config(&config)));
    // Each read takes at least a frame header's bytes or fails, so this ends.
    for _ in 0..data.len() + 1 {
        match socket.read() {
            Ok(message) => assert!(message.len() <= limit, "{} bytes", message.len()),
            Err(_) => return,
        }
    }
});
