//! WebSocket by hand over plain TCP: an upgrade whose stream the test then writes any bytes
//! to (frames no library would send) and reads the server's frames from.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Upgrades a plain TCP connection to `/ws` and returns the stream after the handshake,
/// with its receive buffer set to `receive_buffer` bytes if given (a small window, as a
/// client on a stalled link offers).
pub async fn upgraded(server: SocketAddr, receive_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let mut stream = socket.connect(server).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the response head, up to the blank line.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// Reads unmasked server frames until a close frame; returns its code.
pub async fn read_until_close(stream: &mut TcpStream) -> u16 {
    loop {
        let opcode = stream.read_u8().await.unwrap() & 0x0f;
        let len = match stream.read_u8().await.unwrap() & 0x7f {
            126 => u64::from(stream.read_u16().await.unwrap()),
            127 => stream.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut payload = vec![0; len as usize];
        stream.read_exact(&mut payload).await.unwrap();
        if opcode == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// A client frame: FIN set, `opcode`, masked with `mask` (none: unmasked, which the protocol
/// forbids clients).
pub fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut bytes = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => bytes.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            bytes.extend_from_slice(&key);
            bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => bytes.extend_from_slice(payload),
    }
    bytes
}
