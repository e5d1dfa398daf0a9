//! Unit tests of the benchmark's pure parts (payload stamps, protocol adapter, the raw-TCP
//! peer's WebSocket framing). They live in cargo examples, whose own tests `cargo test` does
//! not run, so they are compiled in here.

#[allow(dead_code)]
#[path = "../bench/loadgen/adapter.rs"]
mod adapter;
#[allow(dead_code)]
#[path = "../bench/loadgen/payload.rs"]
mod payload;
#[allow(dead_code)]
#[path = "../bench/loadgen/rooms.rs"]
mod rooms;
#[allow(dead_code)]
#[path = "../bench/peers/rawtcp/wire.rs"]
mod wire;
