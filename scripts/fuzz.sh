#!/usr/bin/env bash
# Fuzzes what strangers send Huddle: client frames, names and text, the upgrade request and
# the frame reader (fuzz/fuzz_targets). Each target runs SECONDS (default 10, as the test
# command runs them); a longer hunt is `scripts/fuzz.sh 600`. A crash stops the run with the
# input saved under fuzz/artifacts/TARGET/: make it a regression test, then fix it.
#
# Stable Rust: cargo-fuzz with `--sanitizer none` (libFuzzer's coverage, no AddressSanitizer,
# which needs nightly; the code under test is safe Rust, whose failures are panics).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${1:-10}
# Leptos reads the site's name when the server's code is compiled.
export LEPTOS_OUTPUT_NAME=huddle
unset RUSTFLAGS

cargo fuzz build --sanitizer none
for target in client_frame names_and_text upgrade_request frame_reader; do
  # New inputs go to a scratch corpus; the committed seeds in corpus/ are only read.
  scratch=$(mktemp -d)
  log=$(mktemp)
  echo "== fuzz $target for ${seconds}s"
  status=0
  cargo fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  # The run's summary (or, on a crash, everything libFuzzer said).
  if [ "$status" = 0 ]; then
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+.*DONE)' "$log" || true
  else
    cat "$log"
  fi
  rm -rf "$scratch" "$log"
  [ "$status" = 0 ] || { echo "fuzz target $target failed (exit $status); input in fuzz/artifacts/$target/" >&2; exit "$status"; }
done
