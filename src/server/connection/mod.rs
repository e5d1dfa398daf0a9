//! One WebSocket connection's task, from the upgrade to the close: its loop, what it does
//! for each client frame, and the per-connection bookkeeping (pending acks, room cursors,
//! heartbeat, rate limit).

mod commands;
pub mod heartbeat;
pub mod inbound;
pub mod pending_acks;
pub mod rate_limit;
pub mod room_cursors;
pub mod task;
mod writer;

#[cfg(test)]
mod tests;
