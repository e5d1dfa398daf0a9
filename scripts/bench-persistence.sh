#!/usr/bin/env bash
# Durable throughput and ack latency of message history (see benches/persistence.rs).
#
#   scripts/bench-persistence.sh              on a SQLite file (the default store)
#   scripts/bench-persistence.sh --postgres   on PostgreSQL: a throwaway local server
#                                             (scripts/postgres.sh), stopped afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
case "${1:-}" in
  "") ;;
  --postgres)
    HUDDLE_TEST_POSTGRES=$(scripts/postgres.sh start)
    export HUDDLE_TEST_POSTGRES HUDDLE_BENCH_STORE=postgres
    trap 'scripts/postgres.sh stop' EXIT
    ;;
  *) echo "usage: $0 [--postgres]" >&2; exit 2 ;;
esac
env RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=huddle \
  cargo bench --features ssr --bench persistence
