#!/usr/bin/env bash
# Runs Huddle for development: installs what is missing, then `cargo leptos watch`
# (rebuilds and reloads on every change). Open the printed URL in two tabs and chat.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "Building… then open http://${HUDDLE_ADDR:-127.0.0.1:3000} (Ctrl-C stops)."
exec cargo leptos watch "$@"
