#!/usr/bin/env bash
# Installs what Huddle needs, skipping whatever is already there. Safe to run again.
#
#   scripts/setup.sh          toolchain to build and run: wasm32 target, cargo-leptos,
#                             wasm-bindgen-cli (exactly Cargo.lock's version)
#   scripts/setup.sh --cluster  also the servers several nodes use: PostgreSQL 15, Redis and
#                             nginx from Debian (scripts/cluster.sh starts them on loopback)
#   scripts/setup.sh --release  also wasm-opt for release builds: npm's binaryen in
#                             .tools/binaryen (never Debian's binaryen 108, whose output
#                             silently breaks hydration)
#   scripts/setup.sh --test   also what the tests need: those servers, Chromium, the end2end
#                             npm packages, the Autobahn runner (kosoku) in .tools/venv, and
#                             the release build's wasm-opt
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs rustc 1.96
CARGO_FUZZ_VERSION=0.13.2    # scripts/fuzz.sh, on the stable toolchain with --sanitizer none
KOSOKU_VERSION=0.1.0
BINARYEN_VERSION=132.0.0      # wasm-opt for `cargo leptos build --release`

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "Rust is missing: install it from rustup first." >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 30 minutes, once)"
  cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi

# cargo-leptos runs the wasm-bindgen found on PATH; it must match the library exactly.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]; then
  say "installing wasm-bindgen-cli $wbg_version (about 10 minutes, once)"
  cargo install wasm-bindgen-cli --version "=$wbg_version"
fi

mode=${1:-}
if [ "$mode" = --test ] && [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
if [ "$mode" = --cluster ] || [ "$mode" = --test ]; then
  # The PostgreSQL store's tests run against a real server (scripts/postgres.sh starts
  # one of its own on loopback, never the system's).
  if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
    say "installing PostgreSQL 15 from Debian"
    apt_install postgresql
  fi
  # Several nodes share rooms through Redis and sit behind nginx: the cluster tests and
  # scripts/cluster.sh start them on loopback, never the system's services.
  if ! command -v redis-server >/dev/null; then
    say "installing Redis from Debian"
    apt_install redis-server
  fi
  if [ ! -x /usr/sbin/nginx ]; then
    say "installing nginx from Debian"
    apt_install nginx
  fi
fi
if [ "$mode" = --test ]; then
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium from Debian"
    apt_install chromium
  fi
  # The page speaks Chinese: without a CJK font Chromium draws empty boxes (in the README's
  # screenshot too, which a test makes).
  if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
    say "installing a Chinese font (fonts-wqy-microhei) from Debian"
    apt_install fonts-wqy-microhei
  fi
  if ! command -v npm >/dev/null; then
    say "installing Node.js and npm from Debian"
    apt_install nodejs npm
  fi
  if ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  # Playwright drives Debian's Chromium: never download a browser of its own.
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  stamp=end2end/node_modules/.installed-from-lock
  if [ ! -f "$stamp" ] || ! cmp -s end2end/package-lock.json "$stamp"; then
    say "installing the end2end npm packages"
    (cd end2end && npm ci --no-audit --no-fund)
    cp end2end/package-lock.json "$stamp"
  fi
  if ! .tools/venv/bin/kosoku --help >/dev/null 2>&1; then
    say "installing kosoku $KOSOKU_VERSION (Autobahn|Testsuite runner) into .tools/venv"
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet "kosoku==$KOSOKU_VERSION"
  fi
fi
if [ "$mode" = --release ] || [ "$mode" = --test ]; then
  if ! command -v npm >/dev/null; then
    say "installing Node.js and npm from Debian"
    apt_install nodejs npm
  fi
  if [ "$(.tools/binaryen/node_modules/.bin/wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION) into .tools/binaryen"
    mkdir -p .tools/binaryen
    (cd .tools/binaryen && npm install --no-audit --no-fund --prefix . "binaryen@$BINARYEN_VERSION")
  fi
fi
say "ready"
