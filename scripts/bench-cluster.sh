#!/usr/bin/env bash
# Cross-node delivery latency (docs/benchmarks-cluster.md): 1,000 subscribers over three nodes
# sharing one PostgreSQL and one Redis, against the same load on one node, in one run. Installs
# the servers if missing (scripts/setup.sh --cluster), builds Huddle and the load generator in
# release mode, then runs bench/cluster.py (--quick: 1-second steps; figures mean little).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh --cluster
# The same flags as cargo-leptos's builds, so dependencies compile once for both.
RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=huddle \
  cargo build --release --features ssr --bin huddle --example loadgen
exec python3 bench/cluster.py "$@"
