#!/usr/bin/env python3
"""What a reader's first visit costs: the bytes a browser transfers to open a room (the page,
its stylesheet, its script and its wasm, as sent compressed), and how long the server takes
to render a room page with 50 messages, against nginx serving the same page as a file, side
by side in the same run on the same client.

    python3 bench/first_load.py [--binary target/release/huddle] [--requests 400] [--out FILE]

Run it on the release build (`cargo leptos build --release --precompress`, as scripts/test.sh
does): a debug build's wasm is ten times larger and its render slower. Prints a table of bytes
per resource (raw, brotli, gzip), the render's p50/p99 in milliseconds, and the targets:
wasm at most 200 KB gzip, render p50 at most 5 ms.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What Chromium sends.
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
MESSAGES = 50
WASM_TARGET_BYTES = 200 * 1000
RENDER_TARGET_MS = 5.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def fetch(port, path, encoding):
    """The body as it travelled (still compressed), and the response's headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Accept-Encoding": encoding})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        sys.exit(f"GET {path}: {response.status}")
    return body, {k.lower(): v for k, v in response.getheaders()}


def timings(port, path, requests):
    """Milliseconds per request, one keep-alive connection, after a warm-up."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    spent = []
    for i in range(requests + requests // 10):
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept-Encoding": BROWSER_ENCODINGS})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"GET {path}: {response.status}")
        if i >= requests // 10:
            spent.append((time.perf_counter() - started) * 1000)
    connection.close()
    spent.sort()
    return spent


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def seed(port, token, room):
    texts = ["Morning! Who is on call today? @Ada", "我今天值班，有问题随时找我。",
             "The deploy went out at 09:12, all green.", "好的，谢谢！下午的会议改到三点了吗？",
             "Yes, 15:00 in the big room — bring the numbers."]
    for i in range(MESSAGES):
        body = json.dumps({"text": f"{texts[i % len(texts)]} ({i + 1})",
                           "client_id": f"first-load-{i}"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/rooms/{room}/messages", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 201, response.status


def start_nginx(tmp, html):
    """nginx serving `html` as a static file, gzip on (its usual deployment), or None."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        return None, None
    port = free_port()
    os.makedirs(f"{tmp}/nginx/logs", exist_ok=True)
    with open(f"{tmp}/nginx/page.html", "wb") as f:
        f.write(html)
    with open(f"{tmp}/nginx/nginx.conf", "w") as f:
        f.write(f"""daemon off; worker_processes 1; pid {tmp}/nginx/nginx.pid;
error_log {tmp}/nginx/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off; gzip on; gzip_types text/html; default_type text/html;
  client_body_temp_path {tmp}/nginx; proxy_temp_path {tmp}/nginx;
  fastcgi_temp_path {tmp}/nginx; uwsgi_temp_path {tmp}/nginx; scgi_temp_path {tmp}/nginx;
  server {{ listen 127.0.0.1:{port}; root {tmp}/nginx; location / {{ try_files /page.html =404; }} }}
}}
""")
    # Its workers run as nobody: they must be able to read the page.
    os.chmod(tmp, 0o755)
    os.chmod(f"{tmp}/nginx/page.html", 0o644)
    process = subprocess.Popen([nginx, "-p", f"{tmp}/nginx", "-c", f"{tmp}/nginx/nginx.conf"],
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process, port


def kib(n):
    return f"{n / 1000:,.1f} KB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=f"{ROOT}/target/release/huddle")
    parser.add_argument("--site", default=f"{ROOT}/target/site")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--out", help="also write the report (Markdown) here")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} is missing: build it with "
                 "`cargo leptos build --release --precompress`")

    # The lobby: a room every server has (bots post only where people have been).
    room = "lobby"
    with tempfile.TemporaryDirectory(prefix="huddle-first-load-") as tmp:
        database = f"{tmp}/huddle.db"
        token = subprocess.run([args.binary, "token", "create", "first-load", "--database",
                                database], check=True, capture_output=True,
                               text=True).stdout.split()[-1]
        port = free_port()
        env = dict(os.environ, LEPTOS_SITE_ROOT=args.site, HUDDLE_LOG="warn")
        server = subprocess.Popen([args.binary, "--addr", f"127.0.0.1:{port}", "--database",
                                   database, "--worker-threads", "1"], env=env)
        nginx = None
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            seed(port, token, room)
            path = "/"
            html, _ = fetch(port, path, "identity")
            shown = html.count(b'class="message')
            if shown < MESSAGES:
                sys.exit(f"the page shows {shown} messages, not {MESSAGES}")
            assets = {
                "CSS": re.search(rb'rel="stylesheet" href="([^"]+)"', html),
                "JS": re.search(rb'rel="modulepreload" href="([^"]+)"', html),
                "wasm": re.search(rb'rel="preload" href="([^"]+\.wasm)"', html),
            }
            rows = [("HTML (room, 50 messages)", path)]
            for kind, found in assets.items():
                if not found:
                    sys.exit(f"the page links no {kind}")
                rows.append((kind, found.group(1).decode()))
            table = []
            totals = [0, 0, 0]
            wasm_gzip = None
            for label, url in rows:
                raw, _ = fetch(port, url, "identity")
                br, br_headers = fetch(port, url, "br")
                gz, gz_headers = fetch(port, url, "gzip")
                if br_headers.get("content-encoding") != "br":
                    sys.exit(f"{url} was not sent with brotli: {br_headers}")
                if gz_headers.get("content-encoding") != "gzip":
                    sys.exit(f"{url} was not sent with gzip: {gz_headers}")
                cache = gz_headers.get("cache-control", "—")
                table.append((label, len(raw), len(br), len(gz), cache))
                for i, n in enumerate((len(raw), len(br), len(gz))):
                    totals[i] += n
                if label == "wasm":
                    wasm_gzip = len(gz)

            huddle_ms = timings(port, path, args.requests)
            nginx, nginx_port = start_nginx(tmp, html)
            nginx_ms = timings(nginx_port, "/", args.requests) if nginx else None
        finally:
            run.terminate(server)
            if nginx:
                # SIGQUIT: nginx's graceful stop (it does not always end on SIGTERM here).
                nginx.send_signal(signal.SIGQUIT)
                try:
                    nginx.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    nginx.kill()
                    nginx.wait()

    lines = ["# First load", "",
             f"`python3 bench/first_load.py` on {args.binary}, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "Bytes a browser transfers to open a room page with 50 messages "
             "(Chromium asks for br first):", "",
             "| Resource | Raw | Brotli | gzip | Cache-Control |", "|:---|---:|---:|---:|:---|"]
    for label, raw, br, gz, cache in table:
        lines.append(f"| {label} | {kib(raw)} | {kib(br)} | {kib(gz)} | `{cache}` |")
    lines.append(f"| **Total** | {kib(totals[0])} | **{kib(totals[1])}** | {kib(totals[2])} | |")
    lines += ["", f"Server render of that page, {args.requests} requests on one keep-alive "
              "connection (after a warm-up), compressed as for a browser:", "",
              "| Server | p50 (ms) | p99 (ms) | Huddle ÷ peer (p50) |", "|:---|---:|---:|---:|"]
    h50, h99 = percentile(huddle_ms, 50), percentile(huddle_ms, 99)
    lines.append(f"| Huddle (renders the room) | {h50:.2f} | {h99:.2f} | 1.0× |")
    if nginx_ms:
        n50, n99 = percentile(nginx_ms, 50), percentile(nginx_ms, 99)
        lines.append(f"| nginx (the same HTML as a file) | {n50:.2f} | {n99:.2f} | "
                     f"{h50 / n50:.1f}× |")
    met = lambda ok: "✓" if ok else "✗"  # noqa: E731
    lines += ["", "| Target | Measured | Met |", "|:---|---:|---:|",
              f"| wasm ≤ 200 KB gzip | {kib(wasm_gzip)} | {met(wasm_gzip <= WASM_TARGET_BYTES)} |",
              f"| render p50 ≤ 5 ms | {h50:.2f} ms | {met(h50 <= RENDER_TARGET_MS)} |"]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
