//! How bytes reach a client: the listening socket, the HTTP server on it, the WebSocket upgrade, the wire socket
//! that writes the hub's frames already encoded, socket settings, and the close handshake.
//! Nothing here knows about rooms or the hub.

pub mod chat_socket;
pub mod close;
pub mod encoded_frame;
pub mod http_server;
pub mod listener;
pub mod socket_policy;
pub mod upgrade;
pub mod wire_socket;
