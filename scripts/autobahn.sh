#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzing-client cases 1-10 (via kosoku, no Docker) against
# Huddle's diagnostic echo route, which goes through the same socket configuration, error
# handling and close handshake as chat sockets. Section 9 (messages of up to 16 MiB) is left
# out: Huddle caps messages at 64 KiB on purpose. There is no section 8.
# Fails on any FAILED, UNCLEAN or WRONG CODE verdict. Expects a built target/debug/huddle.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${AUTOBAHN_PORT:-3191}
reports=reports/autobahn
rm -rf "$reports"

HUDDLE_LOG=warn LEPTOS_SITE_ROOT=target/site target/debug/huddle \
  --addr "127.0.0.1:$port" --diagnostic-echo &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

# Wait for the server to accept connections (bounded: 30 s).
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$server" 2>/dev/null || { echo "the server exited before listening" >&2; exit 1; }
  sleep 0.1
done

cases=()
for section in 1 2 3 4 5 6 7 10; do cases+=(-i "$section.*"); done
set +e
.tools/venv/bin/kosoku "ws://127.0.0.1:$port/diagnostic/echo" "${cases[@]}" -p 8 -o "$reports"
status=$?
set -e

# kosoku exits non-zero on any failing case; count verdicts ourselves for a clear summary.
python3 - "$reports/index.json" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
ok_behavior = {"OK", "NON-STRICT", "INFORMATIONAL"}
ok_close = {"OK", "INFORMATIONAL"}
passed = failed = 0
for agent in index.values():
    for case, verdict in sorted(agent.items()):
        if verdict["behavior"] in ok_behavior and verdict["behaviorClose"] in ok_close:
            passed += 1
        else:
            failed += 1
            print(f"  case {case}: behavior={verdict['behavior']} close={verdict['behaviorClose']}")
print(f"autobahn: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
PY
exit "$status"
