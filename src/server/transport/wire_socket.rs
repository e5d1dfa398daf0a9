//! A chat connection's WebSocket: tungstenite for everything a connection says on its own
//! (reading, acks, pings, the close handshake), and a direct path to the kernel for the hub's
//! deliveries, which arrive already encoded ([`EncodedFrame`]).
//!
//! The frames of one write are gathered into the worker thread's scratch buffer and go out
//! with one `send`: a copy of a few kilobytes that stay in cache, where tungstenite would
//! copy each frame into each connection's own buffer and keep that buffer. `writev` of the
//! shared bytes would skip the copy but costs more per call: on Linux it goes through the
//! file layer, and `perf` put `vfs_writev` at 3.8 % of the machine's samples at 10,000
//! subscribers, against 1.2 % for `sendto` in the same run of tokio-tungstenite
//! (docs/performance.md).
//!
//! tungstenite never sees these frames; they are written only once its own buffer is empty.
//! A write given up on mid-frame (a client evicted while its kernel buffer was full) leaves
//! the rest of that frame to be written before anything else, so the close frame that follows
//! still arrives whole.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{ready, Sink, SinkExt, Stream, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;

use crate::server::transport::chat_socket::{ChatSocket, EncodedBatch};
use crate::server::transport::encoded_frame::EncodedFrame;

/// Most frames in one write: a backlog of small chat frames in one system call, and few
/// enough that the list of them stays on the stack.
const FRAMES_PER_WRITE: usize = 64;

/// Most bytes gathered for one write, which bounds each worker's scratch buffer. A frame this
/// large or larger is written on its own, from where it is, uncopied.
const GATHER_BYTES: usize = 32 * 1024;

thread_local! {
    /// Where a worker gathers the frames of one write. One per thread, not per connection, so
    /// an idle connection holds no write buffer.
    static GATHERED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// An upgraded WebSocket connection, server side.
pub struct WireSocket {
    inner: WebSocketStream<TokioIo<Upgraded>>,
    /// The rest of a frame whose write was given up on midway, due before anything else.
    torn: Option<Bytes>,
}

impl WireSocket {
    pub fn new(inner: WebSocketStream<TokioIo<Upgraded>>) -> Self {
        WireSocket { inner, torn: None }
    }

    /// Finishes a torn frame, if there is one.
    fn poll_mend(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        poll_finish_torn(self.inner.get_mut(), &mut self.torn, cx).map_err(axum::Error::new)
    }
}

/// Writes the unsent frames of `batch` to `io`, up to [`FRAMES_PER_WRITE`] per system call,
/// after the rest of a torn frame. If the write is dropped midway through a frame, `torn`
/// keeps what is left of it.
async fn write_encoded<W, B>(
    io: &mut W,
    torn: &mut Option<Bytes>,
    batch: &VecDeque<B>,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    B: EncodedBatch,
{
    let mut position = Position::start(batch);
    poll_fn(|cx: &mut Context<'_>| loop {
        ready!(poll_finish_torn(io, torn, cx))?;
        let mut frames = [&[][..]; FRAMES_PER_WRITE];
        let count = position.frames(batch, &mut frames);
        if count == 0 {
            return Poll::Ready(Ok(()));
        }
        match ready!(poll_write_gathered(io, cx, &frames[..count])) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            // A frame written in part becomes the torn frame: finished first, whether this
            // write goes on or is given up.
            Ok(written) => *torn = position.advance(batch, written),
            Err(err) => return Poll::Ready(Err(err)),
        }
    })
    .await?;
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Writes the first of `frames` with one system call, together with as many of the next as
/// fit in [`GATHER_BYTES`]. Returns how many bytes went out, from the start of the first.
fn poll_write_gathered<W>(
    io: &mut W,
    cx: &mut Context<'_>,
    frames: &[&[u8]],
) -> Poll<io::Result<usize>>
where
    W: AsyncWrite + Unpin,
{
    let mut gathered_bytes = 0;
    let fitting = frames
        .iter()
        .take_while(|frame| {
            gathered_bytes += frame.len();
            gathered_bytes <= GATHER_BYTES
        })
        .count();
    if fitting <= 1 {
        return Pin::new(io).poll_write(cx, frames[0]);
    }
    GATHERED.with_borrow_mut(|gathered| {
        gathered.clear();
        for frame in &frames[..fitting] {
            gathered.extend_from_slice(frame);
        }
        Pin::new(io).poll_write(cx, gathered)
    })
}

/// Writes what is left of a torn frame.
fn poll_finish_torn<W>(
    io: &mut W,
    torn: &mut Option<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>>
where
    W: AsyncWrite + Unpin,
{
    while let Some(rest) = torn {
        match ready!(Pin::new(&mut *io).poll_write(cx, rest))? {
            0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            written => rest.advance(written),
        }
        if rest.is_empty() {
            *torn = None;
        }
    }
    Poll::Ready(Ok(()))
}

/// How far a write through a batch has come: the next frame to write.
#[derive(Clone, Copy)]
struct Position {
    delivery: usize,
    frame: usize,
}

impl Position {
    fn start<B: EncodedBatch>(batch: &VecDeque<B>) -> Self {
        let mut position = Position {
            delivery: 0,
            frame: batch.front().map_or(0, |d| d.unsent()),
        };
        position.skip_finished_deliveries(batch);
        position
    }

    /// Moves past deliveries with nothing (more) to write.
    fn skip_finished_deliveries<B: EncodedBatch>(&mut self, batch: &VecDeque<B>) {
        while let Some(delivery) = batch.get(self.delivery) {
            if self.frame < delivery.frame_count() {
                return;
            }
            self.delivery += 1;
            self.frame = batch.get(self.delivery).map_or(0, |d| d.unsent());
        }
    }

    fn current<'a, B: EncodedBatch>(&self, batch: &'a VecDeque<B>) -> Option<&'a EncodedFrame> {
        batch
            .get(self.delivery)
            .map(|delivery| delivery.frame(self.frame))
    }

    /// Fills `frames` with the wire bytes left to write, from here; returns how many it
    /// filled.
    fn frames<'a, B: EncodedBatch>(
        &self,
        batch: &'a VecDeque<B>,
        frames: &mut [&'a [u8]],
    ) -> usize {
        let mut at = *self;
        let mut count = 0;
        while count < frames.len() {
            let Some(frame) = at.current(batch) else {
                break;
            };
            frames[count] = frame.wire();
            count += 1;
            at.next_frame(batch);
        }
        count
    }

    fn next_frame<B: EncodedBatch>(&mut self, batch: &VecDeque<B>) {
        self.frame += 1;
        self.skip_finished_deliveries(batch);
    }

    /// Moves past the `written` bytes; returns the rest of a frame they end inside of.
    fn advance<B: EncodedBatch>(
        &mut self,
        batch: &VecDeque<B>,
        mut written: usize,
    ) -> Option<Bytes> {
        while written > 0 {
            let frame = self.current(batch)?;
            let length = frame.wire().len();
            self.next_frame(batch);
            if written < length {
                return Some(frame.wire_from(written));
            }
            written -= length;
        }
        None
    }
}

impl ChatSocket for WireSocket {
    /// Flushes whatever tungstenite still holds, then writes the shared bytes directly.
    async fn write_encoded<B: EncodedBatch + Sync>(
        &mut self,
        batch: &VecDeque<B>,
    ) -> Result<(), axum::Error> {
        self.flush().await?;
        write_encoded(self.inner.get_mut(), &mut self.torn, batch)
            .await
            .map_err(axum::Error::new)
    }
}

impl Stream for WireSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Reading may write (tungstenite answers pings and closes as it reads).
        if let Err(err) = ready!(self.poll_mend(cx)) {
            return Poll::Ready(Some(Err(err)));
        }
        self.inner
            .poll_next_unpin(cx)
            .map(|item| item.map(|result| result.map_err(axum::Error::new)))
    }
}

impl Sink<Message> for WireSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.poll_mend(cx))?;
        self.inner.poll_ready_unpin(cx).map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.inner.start_send_unpin(item).map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.poll_mend(cx))?;
        self.inner.poll_flush_unpin(cx).map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.poll_mend(cx))?;
        self.inner.poll_close_unpin(cx).map_err(axum::Error::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames, and the index of the first still to write: the hub's deliveries as this
    /// module sees them.
    type Delivery = (Vec<EncodedFrame>, usize);

    impl EncodedBatch for Delivery {
        fn unsent(&self) -> usize {
            self.1
        }

        fn frame_count(&self) -> usize {
            self.0.len()
        }

        fn frame(&self, index: usize) -> &EncodedFrame {
            &self.0[index]
        }
    }

    /// Takes at most `most` bytes per call, only from the first slice (as `write` does), and
    /// says "not now" every other call, as a kernel with a nearly full buffer would. Keeps
    /// what was written and the length of each write that took something.
    struct Trickle {
        written: Vec<u8>,
        writes: Vec<usize>,
        most: usize,
        calls: usize,
    }

    impl Trickle {
        fn new(most: usize) -> Self {
            Trickle {
                written: Vec::new(),
                writes: Vec::new(),
                most,
                calls: 0,
            }
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let taken = buf.len().min(self.most);
            self.written.extend_from_slice(&buf[..taken]);
            self.writes.push(taken);
            Poll::Ready(Ok(taken))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn delivery(texts: &[&str], unsent: usize) -> Delivery {
        (texts.iter().map(EncodedFrame::text).collect(), unsent)
    }

    fn wire_of(texts: &[&str]) -> Vec<u8> {
        texts
            .iter()
            .flat_map(|text| EncodedFrame::text(text).wire().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn partial_writes_resume_mid_frame_and_skip_what_was_sent() {
        let many: Vec<String> = (0..150).map(|i| format!("frame {i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let batch: VecDeque<Delivery> = [
            delivery(&["sent", "sent too", "a", "bb"], 2),
            delivery(&["all sent"], 1),
            delivery(&[], 0),
            // More frames than one write takes.
            delivery(&many, 0),
            delivery(&["ccc"], 0),
        ]
        .into();
        let mut expected = wire_of(&["a", "bb"]);
        expected.extend(wire_of(&many));
        expected.extend(wire_of(&["ccc"]));
        for most in [1, 3, 7, 64, 100_000] {
            let mut io = Trickle::new(most);
            let mut torn = None;
            write_encoded(&mut io, &mut torn, &batch).await.unwrap();
            assert!(io.written == expected, "at most {most} bytes per write");
            assert_eq!(torn, None);
        }
    }

    #[tokio::test]
    async fn small_frames_share_a_write_and_a_frame_too_large_to_gather_goes_alone() {
        let large = "L".repeat(GATHER_BYTES);
        let texts = ["a", "bb", large.as_str(), "c", "dd"];
        let batch: VecDeque<Delivery> = [delivery(&texts, 0)].into();
        let mut io = Trickle::new(usize::MAX);
        write_encoded(&mut io, &mut None, &batch).await.unwrap();
        assert!(io.written == wire_of(&texts));
        let wire = |text: &str| EncodedFrame::text(text).wire().len();
        assert_eq!(
            io.writes,
            [wire("a") + wire("bb"), wire(&large), wire("c") + wire("dd")]
        );
    }

    #[tokio::test]
    async fn a_batch_with_nothing_unsent_writes_nothing() {
        let batch: VecDeque<Delivery> = [delivery(&["x"], 1), delivery(&[], 0)].into();
        let mut io = Trickle::new(10);
        write_encoded(&mut io, &mut None, &batch).await.unwrap();
        assert!(io.written.is_empty());
        assert_eq!(io.calls, 0);
    }

    #[tokio::test]
    async fn a_write_given_up_midway_finishes_its_frame_before_anything_else() {
        use futures_util::FutureExt;
        let first: VecDeque<Delivery> = [delivery(&["a long first frame", "second"], 0)].into();
        let mut io = Trickle::new(5);
        let mut torn = None;
        {
            let mut write = std::pin::pin!(write_encoded(&mut io, &mut torn, &first));
            // One accepted write of 5 bytes, then "not now": give up there.
            assert!((&mut write).now_or_never().is_none());
        }
        let torn_rest = torn.clone().expect("the first frame was cut short");
        assert_eq!(
            io.written.len() + torn_rest.len(),
            wire_of(&["a long first frame"]).len()
        );

        let next: VecDeque<Delivery> = [delivery(&["next"], 0)].into();
        write_encoded(&mut io, &mut torn, &next).await.unwrap();
        let mut expected = wire_of(&["a long first frame"]);
        expected.extend(wire_of(&["next"]));
        assert_eq!(
            io.written, expected,
            "the torn frame is whole, then the next write"
        );
        assert_eq!(torn, None);
    }
}
