#!/usr/bin/env bash
# Durable throughput and ack latency of message history (see benches/persistence.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
exec env RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=huddle \
  cargo bench --features ssr --bench persistence
