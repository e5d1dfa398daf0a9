//! Catching up from the store: how a node with a gap in a room's seqs gets the missing
//! messages, so its members never see a gap or a reorder.
//!
//! A gap has three causes: a batch from another node overtook an earlier one (two nodes
//! committed into the same room, and their publications crossed), Redis dropped a
//! publication, or this node was not subscribed when it was sent. The hub publishes nothing
//! past a gap ([`Hub::publish_in_order`]); this task reads the room from the store, from the
//! hub's head on, and publishes it in order. Everything a node has been told of is already
//! committed, so the store has it.
//!
//! A lost publication with nothing after it shows no gap, so the store is also swept: on
//! every (re)subscription and every `sweep_every`, each room's head in the store is compared
//! with the hub's. A message whose publication was lost reaches members within one sweep.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::server::hub::fanout::{Gap, Hub};
use crate::server::shutdown::Shutdown;
use crate::server::store::Store;

/// Messages read from the store per query while catching up.
const PAGE: u64 = 500;
/// Wait before retrying a room the store could not be read for.
const RETRY_AFTER: Duration = Duration::from_millis(250);

enum Request {
    Fill(Gap),
    Sweep,
}

/// The queue of gaps to fill. Sending never waits: the committer and the subscriber call it.
pub(super) struct CatchUp {
    requests: mpsc::UnboundedSender<Request>,
}

impl CatchUp {
    pub fn start(
        hub: Arc<Hub>,
        store: Arc<dyn Store>,
        sweep_every: Duration,
        shutdown: &Shutdown,
    ) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = run(hub, store, queue, sweep_every) => {}
                () = shutdown.begun() => {}
            }
        });
        CatchUp { requests }
    }

    pub fn fill(&self, gaps: Vec<Gap>) {
        for gap in gaps {
            tracing::debug!(room = %gap.room, after = gap.after, through = gap.through, "seq gap: catching up from the store");
            let _ = self.requests.send(Request::Fill(gap));
        }
    }

    /// Compares every room's head in the store with the hub's, soon.
    pub fn sweep(&self) {
        let _ = self.requests.send(Request::Sweep);
    }
}

async fn run(
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    mut queue: mpsc::UnboundedReceiver<Request>,
    sweep_every: Duration,
) {
    let mut ticks = tokio::time::interval(sweep_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let request = tokio::select! {
            request = queue.recv() => match request {
                Some(request) => request,
                None => return,
            },
            _ = ticks.tick() => Request::Sweep,
        };
        match request {
            Request::Fill(gap) => {
                while !fill(&hub, store.as_ref(), &gap.room, gap.through).await {
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
            Request::Sweep => sweep(&hub, store.as_ref()).await,
        }
    }
}

/// Publishes `room`'s messages from the hub's head through `through`. False if the store
/// could not be read (the caller retries).
async fn fill(hub: &Hub, store: &dyn Store, room: &str, through: u64) -> bool {
    loop {
        // A room not in memory (or whose head it does not know) has nobody here to deliver
        // to: whoever joins it reads its head from the store.
        let Some(after) = hub.head_in_memory(room) else {
            return true;
        };
        if after >= through || hub.skip_unwatched(room, through) {
            return true;
        }
        let up_to = through.min(after + PAGE);
        let messages = match store.range(room, after, up_to).await {
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(room, error = %err, "cannot read the store to fill a seq gap; retrying");
                return false;
            }
        };
        let mut gaps = Vec::new();
        hub.publish_in_order(&messages, &[], &mut gaps);
        if hub.head(room) == after {
            // The store lacks a seq it gave out, or the room's head moved back: a bug, not
            // a wait. Left for the next sweep rather than spinning here.
            tracing::error!(
                room,
                after,
                up_to,
                "the store has no message after the head; not catching up"
            );
            return true;
        }
    }
}

async fn sweep(hub: &Hub, store: &dyn Store) {
    let heads = match store.heads().await {
        Ok(heads) => heads,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the store's heads to look for missed messages");
            return;
        }
    };
    for (room, head) in heads {
        let Some(published) = hub.head_in_memory(&room) else {
            continue;
        };
        if published < head {
            tracing::info!(
                room,
                published,
                stored = head,
                "catching up on messages Redis did not deliver"
            );
            // A failed read is retried at the next sweep.
            fill(hub, store, &room, head).await;
        }
    }
}
