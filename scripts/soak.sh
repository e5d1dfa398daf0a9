#!/usr/bin/env bash
# Soak: the release build under mixed load for a bounded time (reconnect churn, joins and
# leaves over many rooms, guests arriving and logging out), printing RSS, open fds and rooms in
# memory over time, then sent / acked / delivered / lost / duplicated. Exits non-zero if
# anything was lost or duplicated, or sockets or rooms were left over. Loopback only.
#
#   scripts/soak.sh                 # 60 s (what docs/security.md reports)
#   scripts/soak.sh --seconds 600   # longer; any bench/soak.py option passes through
#
# Builds nothing: run scripts/release.sh first (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${HUDDLE_SOAK_BINARY:-target/release/huddle}
if [ ! -x "$binary" ]; then
  echo "soak: $binary is missing; run scripts/release.sh first" >&2
  exit 1
fi

# The Python client, in the venv the benchmarks use (installed only if missing).
venv=.tools/bench-venv
requirements=bench/peers/python-websockets/requirements.txt
websockets_version=$(sed -n 's/^websockets==//p' "$requirements")
if [ "$("$venv/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null)" \
     != "$websockets_version" ]; then
  echo "soak: installing websockets $websockets_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$requirements"
fi

port=${HUDDLE_SOAK_PORT:-3395}
metrics_port=$((port + 1))
room_idle_secs=2
dir=$(mktemp -d /tmp/huddle-soak.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# All the load comes from 127.0.0.1, so the per-address budgets (sockets, guests, new rooms)
# are off; per-socket rate limits and everything else stay at their defaults. Rooms go idle
# after 2 s so that they come and go from memory many times in a short run.
"$binary" --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$metrics_port" \
  --database "$dir/huddle.db" --log warn \
  --max-sockets-per-address 0 --guests-per-address-per-minute 0 --new-rooms-per-minute 0 \
  --room-idle-secs "$room_idle_secs" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/server.log" >&2; exit 1; fi
  sleep 0.1
done

status=0
"$venv/bin/python" bench/soak.py --addr "127.0.0.1:$port" --metrics "127.0.0.1:$metrics_port" \
  --pid "$pid" --room-idle-secs "$room_idle_secs" "$@" || status=$?
if grep -q "panicked" "$dir/server.log"; then
  echo "soak: the server panicked:" >&2
  grep -A5 "panicked" "$dir/server.log" >&2
  status=1
fi
exit "$status"
