#!/usr/bin/env bash
# Runs every test Huddle has: Rust unit and integration tests, the Autobahn|Testsuite
# conformance cases against the real socket code, and the Playwright suite in Debian's
# Chromium. Installs whatever is missing first (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The same flags and environment as cargo-leptos's debug builds, so the tests reuse its
# compiled dependencies instead of building every one of them a second time.
leptos_env=(env RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=huddle)

# A PostgreSQL server of the tests' own, on loopback in a temporary directory; stopped (and its
# directory removed) when the tests end, however they end.
scripts/postgres.sh start >/dev/null
trap 'scripts/postgres.sh stop' EXIT

step "Rust: unit and integration tests (server side), history in SQLite"
"${leptos_env[@]}" cargo test --features ssr
step "Rust: the same suite with every test server's history in PostgreSQL"
HUDDLE_TEST_STORE=postgres "${leptos_env[@]}" cargo test --features ssr
# The load generator's own unit tests (stamps, the protocol adapter). Not `test = true` in
# Cargo.toml: that would build the example as a test harness only, and tests/loadgen.rs runs
# the plain binary.
"${leptos_env[@]}" cargo test --features ssr --example loadgen
# Benchmarks are not tests, but they must keep compiling (a renamed API once broke one).
"${leptos_env[@]}" cargo build --features ssr --benches

step "Fuzzing: client frames, names and text, the upgrade request, the frame reader (10 s each)"
scripts/fuzz.sh 10

# Before the debug site is built: both write target/site, and the tests after this use debug.
step "Release build (wasm-opt, precompressed), its first load, and a chat in it"
scripts/release.sh
python3 bench/first_load.py --requests 300 --out target/first-load.md
step "Soak: the release build under mixed load and churn for 20 s (nothing lost, nothing left over)"
scripts/soak.sh --seconds 20
(cd end2end && E2E_BINARY=../target/release/huddle PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
  npx playwright test tests/chat.spec.ts -g 'two people chat')

step "Build the site (server + wasm) with cargo-leptos"
cargo leptos build

step "Autobahn|Testsuite cases 1-10 against the diagnostic echo route"
scripts/autobahn.sh

step "Playwright in Debian Chromium"
# Kept whole in a file, and on failure summed up last: the failing tests and any server
# panic, so the reason is at the end of the output rather than above the server's log.
log=target/playwright.log
if ! (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test) 2>&1 | tee "$log"; then
  {
    printf '\n\033[1m== Playwright failed (whole output: %s)\033[0m\n' "$log"
    grep -E -A1 '✘|^ +[0-9]+\) |panicked at' "$log" | head -80
  } | tee /dev/stderr
  exit 1
fi

step "Playwright across nodes: scripts/cluster.sh's three nodes behind nginx"
log=target/playwright-cluster.log
if ! (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test -c cluster.config.ts) 2>&1 | tee "$log"; then
  {
    printf '\n\033[1m== Playwright (cluster) failed (whole output: %s)\033[0m\n' "$log"
    grep -E -A1 '✘|^ +[0-9]+\) |panicked at' "$log" | head -80
  } | tee /dev/stderr
  exit 1
fi
