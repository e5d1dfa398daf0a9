//! Huddle's load generator: one worker process of a benchmark run.
//!
//! A run needs more sockets than one process may open (20,000 files here), so the
//! orchestrator (`bench/run.py`) starts several workers — holders, subscribers, publishers —
//! and talks to each through JSON lines on stdout and "stop" as stdin closing. See
//! docs/benchmarks.md.

mod adapter;
mod connect;
mod control;
mod hold;
mod latency;
mod open_many;
mod payload;
mod publish;
mod rooms;
mod subscribe;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use adapter::Protocol;
use publish::Step;
use rooms::Rooms;

#[derive(Parser)]
#[command(about = "One worker of a Huddle benchmark run (see docs/benchmarks.md)")]
struct Cli {
    /// WebSocket URL of the server under test.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "plain")]
    protocol: Protocol,
    /// Source addresses to spread connections over (127.0.0.x), comma-separated.
    #[arg(long, value_delimiter = ',')]
    sources: Vec<IpAddr>,
    /// The worker stops by itself after this many seconds, whatever happens.
    #[arg(long, default_value_t = 120)]
    deadline_secs: u64,
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Open connections, exchange a frame on each, hold them until stopped.
    Hold {
        #[arg(long)]
        connections: usize,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 64)]
        in_flight: usize,
    },
    /// Receive and check every delivery until stopped.
    Subscribe {
        #[arg(long)]
        connections: usize,
        #[arg(long, default_value_t = 64)]
        in_flight: usize,
        /// Every n-th connection never reads after opening (0: none).
        #[arg(long, default_value_t = 0)]
        stall_every: usize,
        /// Spread the connections over this many rooms (0: the server's one default room).
        #[arg(long, default_value_t = 0)]
        rooms: usize,
        /// This worker's first connection goes to room `room_offset % rooms`, so that several
        /// workers fill the rooms evenly.
        #[arg(long, default_value_t = 0)]
        room_offset: usize,
    },
    /// Publish at the given rates: `rate:secs` steps, comma-separated.
    Publish {
        #[arg(long, default_value_t = 0)]
        id: u32,
        #[arg(long, default_value_t = 0)]
        first_step: u32,
        #[arg(long, value_delimiter = ',', value_parser = parse_step)]
        steps: Vec<Step>,
        #[arg(long, default_value_t = 64)]
        message_bytes: usize,
        /// Publish to this many rooms, round robin, through one connection per room (0: one
        /// connection to the default room).
        #[arg(long, default_value_t = 0)]
        rooms: usize,
    },
}

fn parse_step(text: &str) -> Result<Step, String> {
    let (rate, secs) = text
        .split_once(':')
        .ok_or_else(|| format!("a step is rate:secs, not {text:?}"))?;
    let step = Step {
        rate_per_sec: rate.parse().map_err(|_| format!("bad rate in {text:?}"))?,
        secs: secs
            .parse()
            .map_err(|_| format!("bad duration in {text:?}"))?,
    };
    if step.rate_per_sec <= 0.0 || step.secs <= 0.0 {
        return Err(format!("rate and duration must be positive in {text:?}"));
    }
    Ok(step)
}

/// The server's address, from a `ws://host:port/path` URL.
fn server_address(url: &str) -> Result<SocketAddr> {
    let Some(rest) = url.strip_prefix("ws://") else {
        bail!("only ws:// URLs are supported, not {url:?}");
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .with_context(|| format!("{authority:?} is not an IP:port"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let server = server_address(&cli.url)?;
    // One thread: the workers are I/O-bound, and the server under test needs the cores.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let stop = control::stop_signal(Duration::from_secs(cli.deadline_secs));
        match cli.role {
            Role::Hold {
                connections,
                in_flight,
            } => {
                hold::hold(&cli.url, server, &cli.sources, connections, in_flight, stop).await;
                Ok(())
            }
            Role::Subscribe {
                connections,
                in_flight,
                stall_every,
                rooms,
                room_offset,
            } => {
                let spec = subscribe::Subscribers {
                    connections: open_many::Plan {
                        url: &cli.url,
                        server,
                        sources: &cli.sources,
                        count: connections,
                        in_flight,
                        protocol: cli.protocol,
                        rooms: Rooms {
                            count: rooms,
                            offset: room_offset,
                        },
                        small_window_every: 0,
                    },
                    stall_every,
                };
                subscribe::subscribe(spec, stop).await;
                Ok(())
            }
            Role::Publish {
                id,
                first_step,
                steps,
                message_bytes,
                rooms,
            } => {
                if steps.is_empty() {
                    bail!("publish needs at least one --steps rate:secs");
                }
                let spec = publish::Publisher {
                    url: &cli.url,
                    server,
                    protocol: cli.protocol,
                    id,
                    first_step,
                    steps: &steps,
                    message_bytes,
                    sources: &cli.sources,
                    rooms,
                };
                publish::publish(spec, stop).await
            }
        }
    });
    // The stdin watcher sits in a blocking read that only the orchestrator can end; waiting
    // for it would keep a finished worker alive.
    runtime.shutdown_background();
    outcome
}
