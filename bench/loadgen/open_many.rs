//! Opening many connections with a bounded number of handshakes in flight, recording how
//! long each took and how fast they went as a whole.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;

use crate::adapter::Protocol;
use crate::connect::{join, open, Opened, SMALL_RECEIVE_BUFFER};
use crate::latency;
use crate::rooms::{place, Rooms};

pub struct OpenedMany {
    /// Index → connection, in opening order.
    pub sockets: Vec<(usize, Opened)>,
    pub failed: usize,
    pub first_error: Option<String>,
    pub handshakes: Histogram<u64>,
    /// From the first connect to the last handshake.
    pub elapsed: Duration,
}

/// Where to connect and how many: connection `i` goes to `rooms.of(i)`.
pub struct Plan<'a> {
    pub url: &'a str,
    pub server: SocketAddr,
    pub sources: &'a [IpAddr],
    pub count: usize,
    pub in_flight: usize,
    pub protocol: Protocol,
    pub rooms: Rooms,
    /// Every n-th connection (0: none) gets a [`SMALL_RECEIVE_BUFFER`].
    pub small_window_every: usize,
}

pub async fn open_many(plan: Plan<'_>) -> OpenedMany {
    let Plan {
        url,
        server,
        sources,
        count,
        in_flight,
        protocol,
        rooms,
        small_window_every,
    } = plan;
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let permit = permits.clone().acquire_owned().await.expect("never closed");
        let placement = place(protocol, url, rooms.of(index).as_deref());
        let source = (!sources.is_empty()).then(|| sources[index % sources.len()]);
        tasks.spawn(async move {
            let small = small_window_every != 0 && index % small_window_every == 0;
            let receive_buffer = small.then_some(SMALL_RECEIVE_BUFFER);
            let mut outcome = open(&placement.url, server, source, receive_buffer).await;
            if let (Ok(opened), Some(frame)) = (&mut outcome, &placement.join) {
                if let Err(err) = join(&mut opened.socket, protocol, frame).await {
                    outcome = Err(err);
                }
            }
            drop(permit);
            (index, outcome)
        });
    }
    let mut sockets = Vec::with_capacity(count);
    let mut failed = 0;
    let mut first_error = None;
    let mut handshakes = latency::histogram();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(opened))) => {
                latency::record(&mut handshakes, opened.handshake.as_micros() as u64);
                sockets.push((index, opened));
            }
            Ok((_, Err(err))) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{err:#}"));
            }
            Err(err) => {
                failed += 1;
                first_error.get_or_insert_with(|| err.to_string());
            }
        }
    }
    sockets.sort_by_key(|(index, _)| *index);
    OpenedMany {
        sockets,
        failed,
        first_error,
        handshakes,
        elapsed: started.elapsed(),
    }
}
