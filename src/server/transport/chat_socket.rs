//! What a connection's task needs of its socket: WebSocket messages in and out, and a way to
//! write frames that are already encoded. The server's socket is
//! [`crate::server::transport::wire_socket::WireSocket`]; the task's own tests drive it over
//! in-memory channels instead.

use std::collections::VecDeque;
use std::future::Future;

use futures_util::{Sink, Stream};
use tungstenite::Message;

use crate::server::transport::encoded_frame::EncodedFrame;

/// Frames encoded once for all their recipients, of which those from [`EncodedBatch::unsent`]
/// on are still to write to this connection (the hub's deliveries are these).
pub trait EncodedBatch {
    /// The first frame still to write.
    fn unsent(&self) -> usize;
    /// How many frames there are, written or not.
    fn frame_count(&self) -> usize;
    /// The frame at `index`, below [`EncodedBatch::frame_count`].
    fn frame(&self, index: usize) -> &EncodedFrame;
}

/// A chat connection's socket, server side.
pub trait ChatSocket:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin + Send
{
    /// Writes every frame of `batch` still unsent, in order, after whatever was fed before.
    fn write_encoded<B: EncodedBatch + Sync>(
        &mut self,
        batch: &VecDeque<B>,
    ) -> impl Future<Output = Result<(), axum::Error>> + Send;
}
