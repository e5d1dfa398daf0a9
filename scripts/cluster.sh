#!/usr/bin/env bash
# Three Huddle nodes behind nginx on this machine, with one command: a PostgreSQL database and
# a Redis of their own on loopback (in a temporary directory, never the system's services),
# three nodes sharing them, and nginx in front with deploy/nginx.conf. Open the printed URL in
# several tabs: each tab may land on another node, and they chat as one. Ctrl-C stops it all.
#
#   scripts/cluster.sh              builds the site first (cargo leptos build)
#   scripts/cluster.sh --no-build   runs what target/ holds (the Playwright cluster suite)
#
# HUDDLE_CLUSTER_PORT is nginx's port (default 3000); the nodes listen on the next three.
# HUDDLE_CLUSTER_PG_PORT and HUDDLE_CLUSTER_REDIS_PORT pick the servers' ports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

port=${HUDDLE_CLUSTER_PORT:-3000}
pg_port=${HUDDLE_CLUSTER_PG_PORT:-55442}
redis_port=${HUDDLE_CLUSTER_REDIS_PORT:-56379}
nodes=("127.0.0.1:$((port + 1))" "127.0.0.1:$((port + 2))" "127.0.0.1:$((port + 3))")

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*"; }

if [ "${1:-}" != --no-build ]; then
  scripts/setup.sh --cluster
  say "building the site"
  cargo leptos build
fi
[ -x target/debug/huddle ] && [ -d target/site ] \
  || { echo "target/debug/huddle and target/site are missing: run without --no-build" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/huddle-cluster.XXXXXX")
pids=()
stop() {
  trap - EXIT INT TERM
  say "stopping"
  # Nodes first, so each says goodbye to the others through Redis while it is still there.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  HUDDLE_TEST_PG_PORT=$pg_port scripts/postgres.sh stop
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Waits until something answers on 127.0.0.1:$1, for at most 30 s.
wait_for_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1; logs are in $dir" >&2
  return 1
}

say "PostgreSQL on 127.0.0.1:$pg_port"
database=$(HUDDLE_TEST_PG_PORT=$pg_port scripts/postgres.sh start)

say "Redis on 127.0.0.1:$redis_port"
mkdir -p "$dir/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --dir "$dir/redis" >"$dir/redis/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port"

for node in "${nodes[@]}"; do
  say "node on $node"
  LEPTOS_SITE_ROOT=target/site target/debug/huddle --addr "$node" --log warn \
    --database "$database" --redis "redis://127.0.0.1:$redis_port/" --trusted-proxies 127.0.0.1 \
    >"$dir/node-${node##*:}.log" 2>&1 &
  pids+=($!)
done
for node in "${nodes[@]}"; do wait_for_port "${node##*:}"; done

# deploy/nginx.conf itself, with only its marked lines pointed at this machine.
mkdir -p "$dir/nginx/logs"
upstreams=$(printf '    server %s;\\n' "${nodes[@]}")
sed -e "/# huddle:node/d" \
  -e "s|^upstream huddle {|upstream huddle {\n$upstreams|" \
  -e "s|^\( *\)listen .*# huddle:listen|\1listen 127.0.0.1:$port;|" \
  deploy/nginx.conf >"$dir/nginx/huddle.conf"
cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  include $dir/nginx/huddle.conf;
}
EOF
say "nginx on 127.0.0.1:$port"
# In the foreground of its own (daemon off), so it is one of ours to stop like the others.
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_for_port "$port"

say "open http://127.0.0.1:$port (nodes: ${nodes[*]}; logs in $dir). Ctrl-C stops."
# Until a node stops by itself or Ctrl-C: then everything is stopped above.
wait -n "${pids[@]}" || true
say "a server stopped by itself; see $dir"
tail -5 "$dir"/*.log "$dir"/redis/redis.log 2>/dev/null || true
exit 1
