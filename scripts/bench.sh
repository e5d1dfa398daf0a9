#!/usr/bin/env bash
# The benchmark suite (docs/benchmarks.md): installs the peers, builds Huddle, the load
# generator and the Rust peers in release mode, then runs bench/run.py, which writes
# docs/benchmarks.{json,md} and docs/benchmarks-latency.svg. Extra arguments go to run.py
# (--quick for a seconds-long trial run, --servers huddle,node-ws to pick).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/bench-setup.sh
# The same flags as cargo-leptos's builds, so dependencies compile once for both.
RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=huddle \
  cargo build --release --features ssr --bin huddle \
  --example loadgen --example peer-tungstenite --example peer-rawtcp
exec python3 bench/run.py "$@"
