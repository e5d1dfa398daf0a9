#!/usr/bin/env bash
# Installs the peers the benchmark compares Huddle against (bench/peers/), skipping whatever is
# already there. Safe to run again. The Rust peers are cargo examples and need nothing here.
#
#   node-ws            npm packages from bench/peers/node-ws/package-lock.json
#   python-websockets  a venv at .tools/bench-venv with bench/peers/python-websockets/requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bench-setup]\033[0m %s\n' "$*"; }

command -v npm >/dev/null || { echo "npm is missing: run scripts/setup.sh --test first." >&2; exit 1; }

node_ws=bench/peers/node-ws
stamp=$node_ws/node_modules/.installed-from-lock
if [ ! -f "$stamp" ] || ! cmp -s "$node_ws/package-lock.json" "$stamp"; then
  say "installing the node-ws peer's npm packages"
  (cd "$node_ws" && npm ci --no-audit --no-fund)
  cp "$node_ws/package-lock.json" "$stamp"
fi

venv=.tools/bench-venv
requirements=bench/peers/python-websockets/requirements.txt
websockets_version=$(sed -n 's/^websockets==//p' "$requirements")
if [ "$("$venv/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null)" \
     != "$websockets_version" ]; then
  say "installing websockets $websockets_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$requirements"
fi
say "ready"
