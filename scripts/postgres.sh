#!/usr/bin/env bash
# A throwaway PostgreSQL server for Huddle's tests and benchmarks: its own cluster in a
# temporary directory, listening on loopback only, started with pg_ctl (never systemd).
#
#   scripts/postgres.sh start   starts it unless it runs already; prints its URL
#   scripts/postgres.sh url     prints the URL (whether or not it runs)
#   scripts/postgres.sh halt    stops it and keeps its data, for `start` to bring it back (tests
#                               of a database outage)
#   scripts/postgres.sh stop    stops it and removes its directory
#
# HUDDLE_TEST_PG_PORT picks the port (default 55432). PostgreSQL refuses to run as root, so
# as root the server runs as the `postgres` user Debian's package creates. Authentication is
# `trust` on loopback: this server holds nothing but test data, and it is gone after `stop`.
set -euo pipefail

port=${HUDDLE_TEST_PG_PORT:-55432}
bin=/usr/lib/postgresql/15/bin
dir=${TMPDIR:-/tmp}/huddle-test-postgres-$port
url="postgres://huddle@127.0.0.1:$port/postgres"

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  [ -x "$bin/pg_ctl" ] || { echo "PostgreSQL 15 is not installed (scripts/setup.sh --test installs it)" >&2; exit 1; }
  mkdir -p "$dir"
  # Tests start it from several processes at once: one of them does the work.
  exec 9>"$dir.lock"
  flock 9
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=huddle --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! as_owner "$bin/pg_ctl" status --pgdata="$dir/data" >/dev/null 2>&1; then
    # Enough connections for every test of a binary running at once, each with its own pool.
    # The server must not inherit the lock (fd 9) or our output, or it would hold both for
    # as long as it runs.
    as_owner "$bin/pg_ctl" start --pgdata="$dir/data" --wait --timeout=60 \
      --log="$dir/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500 -c shared_buffers=128MB" \
      >>"$dir/pg_ctl.log" 2>&1 9>&- || { tail -20 "$dir/server.log" >&2; exit 1; }
  fi
  echo "$url"
}

halt() {
  as_owner "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait >/dev/null
}

stop() {
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" "$dir.lock"
}

case "${1:-}" in
  start) start ;;
  halt) halt ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|url|halt|stop" >&2; exit 2 ;;
esac
