#!/usr/bin/env bash
# The release build: server and wasm optimized, the wasm shrunk by wasm-opt (npm's binaryen,
# installed by scripts/setup.sh --release) and precompressed (.br, .gz beside it, which the
# server sends to browsers that accept them). Run it with:
#   LEPTOS_SITE_ROOT=target/site target/release/huddle
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --release
export PATH="$PWD/.tools/binaryen/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Views erased to AnyView (what cargo-leptos does for debug builds) in release too: the wasm
# carries one rendering path per element kind instead of one per component's exact view type,
# which makes it markedly smaller; and the server's dependencies are the ones
# scripts/bench.sh compiles with the same flag.
export RUSTFLAGS="--cfg erase_components"
cargo leptos build --release --precompress "$@"
# cargo-leptos's gzip copies use a fast level; browsers that do not take brotli get the
# smallest gzip instead (the same bytes decompress the same, it only costs build time).
site_pkg=$(awk -F'"' '/^site-root/ {root=$2} /^site-pkg-dir/ {pkg=$2} END {print root "/" pkg}' Cargo.toml)
for file in "$site_pkg"/*.gz; do
  gzip -9 --no-name --stdout "${file%.gz}" > "$file"
done
