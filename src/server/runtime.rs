//! The async runtime the server runs on: tokio's multi-threaded scheduler, with as many
//! worker threads as `--worker-threads` says, or one per core the process may use.
//!
//! Fewer workers than cores is for machines the server shares with busy processes. The
//! benchmark is one: its load generator reads on the same two cores, and there Huddle
//! delivered more on one worker than on two, because two workers' bursts of writes leave the
//! readers behind (docs/performance.md). So every server there runs one event-loop thread
//! (docs/benchmarks.md).

use std::io;
use std::num::NonZeroUsize;

use tokio::runtime::{Builder, Runtime};

/// A runtime with `worker_threads` workers, or tokio's default (one per available core, or
/// `TOKIO_WORKER_THREADS`) when `None`. Timers and I/O are enabled.
pub fn build(worker_threads: Option<NonZeroUsize>) -> io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    builder.enable_all();
    if let Some(workers) = worker_threads {
        builder.worker_threads(workers.get());
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_the_workers_asked_for() {
        for workers in [1, 3] {
            let runtime = build(NonZeroUsize::new(workers)).unwrap();
            assert_eq!(runtime.metrics().num_workers(), workers);
            assert_eq!(runtime.block_on(async { 40 + 2 }), 42, "it runs futures");
        }
    }
}
