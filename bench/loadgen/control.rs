//! How a worker process talks to the orchestrator: one JSON line per event on stdout, and
//! "stop" is stdin closing. Every worker also stops by itself at its deadline, so a run is
//! bounded even if the orchestrator dies.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// Prints one event line and flushes it, so the orchestrator sees it at once.
pub fn emit(event: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

/// A token cancelled when stdin closes or `deadline` passes, whichever is first.
pub fn stop_signal(deadline: Duration) -> CancellationToken {
    let stop = CancellationToken::new();
    let on_eof = stop.clone();
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut sink = [0u8; 256];
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
        on_eof.cancel();
    });
    let on_deadline = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(deadline).await;
        if !on_deadline.is_cancelled() {
            eprintln!("loadgen: deadline of {deadline:?} reached, stopping");
        }
        on_deadline.cancel();
    });
    stop
}
