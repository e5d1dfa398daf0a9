//! Wakes a task on the server's runtime from a thread of its own (the committer's) through the
//! runtime's I/O driver, so the woken task runs next instead of after every task already queued.
//!
//! Why not a channel's own wake-up: a task woken from outside the runtime goes to the back of
//! the runtime's shared queue. During a fan-out to 10,000 members that queue holds thousands of
//! connection tasks, so a committed batch waited up to 87 ms for the task that publishes it, longer
//! than the batch's own fan-out takes to start (docs/performance.md). A wake-up that arrives as
//! I/O readiness is delivered by a worker polling its driver, and tokio runs a task woken there
//! straight after the current one.
//!
//! The bell is a socket pair: ringing writes a byte, waiting awaits readability and empties
//! it. Rings that come before the waiter looks merge into one wake-up.

use std::io::{self, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;

use tokio::net::UnixStream;

/// The ringing end, for a thread outside the runtime.
pub struct Ringer {
    socket: StdUnixStream,
}

/// The waiting end, for one task on the runtime.
pub struct Bell {
    socket: UnixStream,
}

/// A connected pair. Must be called from within a tokio runtime (the bell registers with its
/// I/O driver).
pub fn doorbell() -> io::Result<(Ringer, Bell)> {
    let (ringing, waiting) = StdUnixStream::pair()?;
    ringing.set_nonblocking(true)?;
    waiting.set_nonblocking(true)?;
    Ok((
        Ringer { socket: ringing },
        Bell {
            socket: UnixStream::from_std(waiting)?,
        },
    ))
}

impl Ringer {
    /// Wakes the bell's task, never blocking. Call it after making the news visible (e.g.
    /// after sending on a channel): the woken task looks only after the ring.
    pub fn ring(&self) {
        // A full buffer (`WouldBlock`) means unread rings are already waiting, which is as
        // good as this one; a bell that is gone has no one left to wake.
        let _ = (&self.socket).write(&[1]);
    }
}

impl Bell {
    /// Waits until rung at least once since the last wait returned, or until the ringer is
    /// gone (then it returns at once, every time: the caller finds out what ended by looking).
    pub async fn wait(&self) -> io::Result<()> {
        let mut rings = [0u8; 64];
        loop {
            self.socket.readable().await?;
            let mut rung = false;
            loop {
                match self.socket.try_read(&mut rings) {
                    // The ringer is gone.
                    Ok(0) => return Ok(()),
                    Ok(_) => rung = true,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) => return Err(err),
                }
            }
            if rung {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_ring_from_another_thread_wakes_the_waiter() {
        let (ringer, bell) = doorbell().unwrap();
        let thread = std::thread::spawn(move || {
            ringer.ring();
            ringer
        });
        tokio::time::timeout(Duration::from_secs(5), bell.wait())
            .await
            .expect("the ring woke the bell")
            .unwrap();
        drop(thread.join().unwrap());
    }

    #[tokio::test]
    async fn rings_before_the_wait_merge_into_one_wake_up() {
        let (ringer, bell) = doorbell().unwrap();
        for _ in 0..1_000 {
            ringer.ring();
        }
        bell.wait().await.unwrap();
        // Every earlier ring was consumed by that one wait: another one waits for a new ring.
        let again = tokio::time::timeout(Duration::from_millis(50), bell.wait()).await;
        assert!(again.is_err(), "old rings woke the bell twice");
        ringer.ring();
        bell.wait().await.unwrap();
    }

    #[tokio::test]
    async fn a_full_bell_neither_blocks_the_ringer_nor_loses_the_wake_up() {
        let (ringer, bell) = doorbell().unwrap();
        // Far more than a socket buffer holds: ringing must never block.
        for _ in 0..1_000_000 {
            ringer.ring();
        }
        bell.wait().await.unwrap();
    }

    #[tokio::test]
    async fn the_waiter_learns_the_ringer_is_gone() {
        let (ringer, bell) = doorbell().unwrap();
        drop(ringer);
        tokio::time::timeout(Duration::from_secs(5), bell.wait())
            .await
            .expect("a gone ringer ends the wait")
            .unwrap();
    }
}
