#!/usr/bin/env python3
"""Huddle's benchmark suite: the same workloads, from the same load generator, against Huddle
and its peers, one after another in one run on one machine. Writes docs/benchmarks.json, then
docs/benchmarks.md and docs/benchmarks-latency.svg through bench/report.py.

Run it with `make bench` (which builds and installs what it needs first). `--quick` shrinks
every scenario to seconds, for trying the suite out; its figures mean nothing.

Why an orchestrator: one process may open 20,000 files here, so connections are spread over
several load-generator workers (target/release/examples/loadgen), each on its own 127.0.0.x
source address. Workers print JSON lines (ready / progress / report) and stop when their stdin
closes; this script starts them, waits on those events, and merges their histograms.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
LOADGEN = RELEASE / "examples" / "loadgen"
PORT = 3390

# Every server runs one event-loop thread. Node and Python have one by nature; the tokio
# servers get one worker (Huddle through --worker-threads, the peers through tokio's own
# variable). On two cores the load generator needs the other one: a second worker would only
# take turns with it, so the figures are what each server does with one core.
ONE_WORKER = {"TOKIO_WORKER_THREADS": "1"}

SERVERS = {
    "huddle": {
        "label": "Huddle (this repo, release build)",
        "command": [str(RELEASE / "huddle"), "--addr", "127.0.0.1:{port}",
                    "--database", "{tmp}/huddle.db", "--log", "warn",
                    # The load generator floods on purpose; the peers limit nothing either.
                    "--rate-limit-per-sec", "0",
                    # Every load-generator socket comes from 127.0.0.1, and its anonymous
                    # sockets bring many rooms into being at once.
                    "--max-sockets-per-address", "0",
                    "--new-rooms-per-minute", "0",
                    # The tokio-tungstenite peer drops a reader more than 1,024 messages
                    # behind (its BROADCAST_CAPACITY); Huddle gets the same slack instead of
                    # its default 256, so that neither evicts a reader the other would keep.
                    "--queue-capacity", "1024",
                    # One event-loop thread per server, as Node and Python have by nature: the
                    # load generator needs the machine's other core (see ONE_WORKER).
                    "--worker-threads", "1"],
        "protocol": "huddle",
        "ready": "Huddle is running",
    },
    "tungstenite": {
        "label": "bare tokio-tungstenite 0.29",
        "command": [str(RELEASE / "examples" / "peer-tungstenite"), "{port}"],
        "env": ONE_WORKER,
        "protocol": "plain",
        "ready": "listening on",
    },
    "rawtcp": {
        "label": "raw-TCP probe (one write per delivery)",
        "command": [str(RELEASE / "examples" / "peer-rawtcp"), "{port}"],
        "env": ONE_WORKER,
        "protocol": "plain",
        "ready": "listening on",
    },
    "node-ws": {
        "label": "Node ws {ws} (node {node})",
        "command": ["node", str(ROOT / "bench/peers/node-ws/server.js"), "{port}"],
        "protocol": "plain",
        "ready": "listening on",
    },
    "python-websockets": {
        "label": "Python websockets {websockets} (CPython {python})",
        "command": [str(ROOT / ".tools/bench-venv/bin/python"),
                    str(ROOT / "bench/peers/python-websockets/server.py"), "{port}"],
        "protocol": "plain",
        "ready": "listening on",
    },
}

FULL = {
    "idle_connections": 19_000,
    "idle_workers": 4,
    "fanout_small": 1_000,
    # Up to where the fastest server saturates: doubling, with halfway steps near the top,
    # where the servers part ways.
    "fanout_small_rates": [10, 50, 100, 200, 400, 800, 1200, 1600, 2400, 3200],
    "fanout_large": 10_000,
    "fanout_large_rates": [1, 5, 10, 20],
    "rooms": 1_000,
    "room_members": 10,
    "rooms_rates": [100, 1_000, 5_000, 10_000, 20_000],
    "step_secs": 3.0,
    "slow_rate": 200,
    "slow_secs": 10.0,
    # Traffic goes on this long after the measured step, so that stalled clients meet the
    # server's deadlines (Huddle's: a ping unanswered 25 + 10 s after last hearing from
    # them); closed or not, the table says.
    "slow_tail_secs": 30.0,
}
QUICK = {
    "idle_connections": 400,
    "idle_workers": 2,
    "fanout_small": 100,
    "fanout_small_rates": [10, 50],
    "fanout_large": 300,
    "fanout_large_rates": [5],
    "rooms": 20,
    "room_members": 5,
    "rooms_rates": [20, 100],
    "step_secs": 1.0,
    "slow_rate": 50,
    "slow_secs": 2.0,
    "slow_tail_secs": 0.0,
}
# The text of a Huddle message. Huddle sends it inside its JSON envelope (id, seq, room,
# sender, time); the peers' messages are plain text frames padded to that whole envelope's
# length (measured at the start of a run), so every server sends the same bytes per delivery.
MESSAGE_BYTES = 64
# Bytes of a delivered Huddle frame, once measured; what the peers' messages then weigh.
WIRE = {"bytes": None}
# A step whose backlog takes longer than this to drain saturated the server; the ramp stops.
SATURATED_DRAIN_SECS = 5.0
# Deliveries that stop growing for this long are all there will be.
SETTLED_SECS = 2.0


def raise_file_limit():
    """Children inherit it: the server and workers may use up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """One server under test, started fresh for each scenario so that memory and state of one
    scenario do not leak into the next."""

    def __init__(self, name, tmp):
        spec = SERVERS[name]
        self.name = name
        self.protocol = spec["protocol"]
        self.url = f"ws://127.0.0.1:{PORT}/ws"
        command = [part.format(port=PORT, tmp=tmp) for part in spec["command"]]
        for stale in pathlib.Path(tmp).glob("huddle.db*"):
            stale.unlink()
        self.process = launch(command, spec["ready"], spec.get("env", {}))

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        terminate(self.process)


def launch(command, ready, env):
    """Starts a server and returns once a line of its output contains `ready` (or 30 s have
    passed); its output is drained from then on, so it never blocks on a full pipe."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if ready in line or time.monotonic() > deadline:
            break
    else:
        raise RuntimeError(f"{command[0]} exited before it was ready")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process


def terminate(process):
    """SIGTERM, then SIGKILL if it has not exited within 40 s (a drain is bounded by 30)."""
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Worker:
    """One load-generator process; its JSON event lines arrive on a queue."""

    sources = iter(f"127.0.0.{n}" for n in range(2, 250))
    # Every worker ever started, so that a failing scenario can end them all.
    started = []

    def __init__(self, server, role, deadline_secs=300):
        command = [str(LOADGEN), "--url", server.url, "--protocol", server.protocol,
                   "--deadline-secs", str(deadline_secs)]
        if role[0] != "publish":
            command += ["--sources", next(Worker.sources)]
        self.process = subprocess.Popen(command + role, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        self.pending = []  # events taken off the queue by progress() but not yet asked for
        self.latest_progress = 0
        Worker.started.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except json.JSONDecodeError:
                print(f"loadgen said: {line.rstrip()}", file=sys.stderr)
        self.events.put({"event": "exit"})

    def next(self, kind, timeout):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind} event within {timeout} s")
            if self.pending:
                event = self.pending.pop(0)
            else:
                try:
                    event = self.events.get(timeout=remaining)
                except queue.Empty:
                    raise TimeoutError(f"no {kind} event within {timeout} s") from None
            if event["event"] == "progress":
                self.latest_progress = event["deliveries"]
            if event["event"] == kind:
                return event
            if event["event"] == "exit":
                raise RuntimeError(f"load generator exited before {kind}")

    def progress(self):
        """Latest delivery count, without waiting."""
        try:
            while True:
                event = self.events.get_nowait()
                if event["event"] == "progress":
                    self.latest_progress = event["deliveries"]
                else:
                    self.pending.append(event)
        except queue.Empty:
            pass
        return self.latest_progress

    def stop(self, timeout=60):
        self.process.stdin.close()
        report = self.next("report", timeout)
        self.process.wait(timeout=timeout)
        return report

    @classmethod
    def end_all(cls):
        """Ends every worker still running (after a scenario failed midway)."""
        for worker in cls.started:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
        cls.started.clear()


# --- merging what workers report -------------------------------------------------------------

def merge_pairs(histograms):
    counts = {}
    for histogram in histograms:
        for value, count in histogram["pairs"]:
            counts[value] = counts.get(value, 0) + count
    return sorted(counts.items())


def percentile_ms(pairs, quantile):
    total = sum(count for _, count in pairs)
    if total == 0:
        return None
    rank = quantile * total
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value / 1000
    return pairs[-1][0] / 1000


def sorted_percentile_ms(values_us, quantile):
    if not values_us:
        return None
    values = sorted(values_us)
    return values[min(len(values) - 1, int(quantile * len(values)))] / 1000


def wait_until_settled(workers, expected, cap_secs):
    """Waits until the workers' deliveries reach `expected` or stop growing. Returns how long
    that took."""
    started = time.monotonic()
    last, last_change = -1, started
    while time.monotonic() - started < cap_secs:
        total = sum(worker.progress() for worker in workers)
        if total >= expected:
            return time.monotonic() - started
        if total != last:
            last, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > SETTLED_SECS:
            # Some deliveries never came; the drain ended with the last one that did.
            return last_change - started
        time.sleep(0.1)
    return time.monotonic() - started


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- scenarios -------------------------------------------------------------------------------

def kernel_memory_kib():
    """Kernel memory of all TCP sockets (both ends: clients run on this host too) and slab."""
    tcp_pages = 0
    with open("/proc/net/sockstat") as sockstat:
        for line in sockstat:
            if line.startswith("TCP:"):
                fields = line.split()
                tcp_pages = int(fields[fields.index("mem") + 1])
    slab = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Slab:"):
                slab = int(line.split()[1])
    return tcp_pages * os.sysconf("SC_PAGE_SIZE") // 1024, slab


def idle_and_connect(name, tmp, sizes):
    """Holds N connections that each exchanged a frame; the handshakes of that ramp are the
    connect-rate figures (made while the earlier connections are held)."""
    server = Server(name, tmp)
    try:
        time.sleep(0.5)
        baseline = server.rss_kib()
        _, slab_before = kernel_memory_kib()
        counts = split(sizes["idle_connections"], sizes["idle_workers"])
        workers = [Worker(server, ["hold", "--connections", str(n), "--in-flight", "64"])
                   for n in counts]
        readies = [worker.next("ready", 240) for worker in workers]
        rss = server.rss_kib()
        tcp_kib, slab_after = kernel_memory_kib()
        reports = [worker.stop() for worker in workers]
    finally:
        server.stop()
    held = sum(ready["opened"] for ready in readies)
    pairs = merge_pairs(report["handshake"] for report in reports)
    connect_secs = max(report["connect_secs"] for report in reports)
    idle = {
        "connections": held,
        "failed": sum(ready["failed"] for ready in readies),
        "first_error": next((r["first_error"] for r in readies if r["first_error"]), None),
        "ended_early": sum(report["ended_early"] for report in reports),
        "rss_baseline_kib": baseline,
        "rss_kib": rss,
        "rss_per_connection_bytes": (rss - baseline) * 1024 / held if held else None,
        "kernel_tcp_kib": tcp_kib,
        "slab_delta_kib": slab_after - slab_before,
    }
    connect = {
        "connections": held,
        "handshakes_per_sec": held / connect_secs if connect_secs else None,
        "p50_ms": percentile_ms(pairs, 0.50),
        "p99_ms": percentile_ms(pairs, 0.99),
        "p999_ms": percentile_ms(pairs, 0.999),
    }
    return idle, connect


def message_bytes(server):
    """The size of what `server`'s publisher sends: Huddle's text, or a peer's whole frame."""
    if server.protocol == "huddle":
        return MESSAGE_BYTES
    return WIRE["bytes"] or MESSAGE_BYTES


def measure_wire_bytes(tmp):
    """How many bytes Huddle delivers per message of MESSAGE_BYTES text (envelope included)."""
    figures = fanout("huddle", tmp, 1, [20], {"step_secs": 0.5}, 1)
    if not figures["frame_bytes_per_delivery"]:
        raise RuntimeError("no message reached the probe connection")
    return round(figures["frame_bytes_per_delivery"])


def publish(server, step, rate, secs, rooms=0):
    publisher = Worker(server, ["publish", "--first-step", str(step),
                                "--steps", f"{rate}:{secs}",
                                "--message-bytes", str(message_bytes(server)),
                                "--rooms", str(rooms)])
    report = publisher.next("report", secs + 60)
    publisher.process.stdin.close()
    publisher.process.wait(timeout=30)
    return report


def step_figures(step, rate, secs, sent, readers, reports):
    per_step = [s for report in reports for s in report["steps"] if s["step"] == step]
    pairs = merge_pairs(s["latency"] for s in per_step)
    delivered = sum(count for _, count in pairs)
    # Completion: when the last receiver got each message, across all workers.
    last = {}
    for report in reports:
        for publisher, s, number, _receivers, latency_us in report["messages"]:
            if s == step:
                key = (publisher, number)
                last[key] = max(last.get(key, 0), latency_us)
    first = min((s["first_intended_us"] for s in per_step), default=0)
    end = max((s["last_arrival_us"] for s in per_step), default=0)
    expected = sent * readers
    return {
        "rate": rate,
        "secs": secs,
        "offered_deliveries_per_sec": rate * readers,
        "delivered_deliveries_per_sec": delivered / ((end - first) / 1e6) if end > first else None,
        "p50_ms": percentile_ms(pairs, 0.50),
        "p99_ms": percentile_ms(pairs, 0.99),
        "p999_ms": percentile_ms(pairs, 0.999),
        "completion_p50_ms": sorted_percentile_ms(list(last.values()), 0.50),
        "completion_p99_ms": sorted_percentile_ms(list(last.values()), 0.99),
        "expected": expected,
        "delivered": delivered,
        "lost": max(0, expected - delivered),
        # Workers count repeats per run, not per step.
        "duplicates": sum(report["duplicates"] for report in reports),
    }


def closed_by_server(reports):
    closed = {}
    for report in reports:
        for code, count in report["closed_by_server"].items():
            closed[code] = closed.get(code, 0) + count
    return closed


def fanout(name, tmp, subscribers, rates, sizes, workers_count, rooms=0):
    """`subscribers` receivers in one room (or spread evenly over `rooms`), one publisher
    (one connection per room, round robin) whose rate steps up until the server saturates
    (its backlog takes too long to drain) or the ramp ends."""
    server = Server(name, tmp)
    steps, acks = [], {}
    try:
        workers, offset = [], 0
        for n in split(subscribers, workers_count):
            workers.append(Worker(server, ["subscribe", "--connections", str(n),
                                           "--rooms", str(rooms), "--room-offset", str(offset)]))
            offset += n
        readers = sum(worker.next("ready", 240)["opened"] for worker in workers)
        # Each message reaches the members of its room.
        receivers = readers // rooms if rooms else readers
        expected, plan = 0, []
        for step, rate in enumerate(rates):
            report = publish(server, step, rate, sizes["step_secs"], rooms)
            acks[step] = report
            sent = sum(report["sent_per_step"])
            expected += sent * receivers
            drain = wait_until_settled(workers, expected, 60)
            plan.append((step, rate, sent))
            if drain > SATURATED_DRAIN_SECS or sent == 0 or report.get("dropped"):
                break
        reports = [worker.stop() for worker in workers]
    finally:
        server.stop()
    for step, rate, sent in plan:
        figures = step_figures(step, rate, sizes["step_secs"], sent, receivers, reports)
        if acks[step].get("dropped"):
            figures["publisher_dropped"] = acks[step]["dropped"]
        if server.protocol == "huddle":
            # Sender's view: send to ack, which comes after the commit.
            figures["ack_p99_ms"] = (acks[step]["acks"]["p99_us"] or 0) / 1000
            figures["unacked"] = acks[step]["unacked"]
        steps.append(figures)
    deliveries = sum(report["deliveries"] for report in reports)
    frame_bytes = sum(report["frame_bytes"] for report in reports)
    return {"subscribers": readers, "rooms": rooms, "receivers_per_message": receivers,
            "steps": steps, "closed_by_server": closed_by_server(reports),
            "frame_bytes_per_delivery": frame_bytes / deliveries if deliveries else None}


def slow_consumers(name, tmp, sizes, subscribers):
    """Readers first alone (baseline), then with 1% of connections that never read, at the same
    rate; server memory sampled throughout."""
    server = Server(name, tmp)
    samples, sampling = [], threading.Event()
    started = time.monotonic()

    def sample():
        while not sampling.wait(0.5):
            samples.append([round(time.monotonic() - started, 1), server.rss_kib()])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stalled_count = max(1, subscribers // 100)
        readers = Worker(server, ["subscribe", "--connections", str(subscribers - stalled_count)])
        opened = readers.next("ready", 240)["opened"]
        rate, secs = sizes["slow_rate"], sizes["slow_secs"]
        baseline = publish(server, 0, rate, secs)
        expected = sum(baseline["sent_per_step"]) * opened
        wait_until_settled([readers], expected, 60)
        stalled = Worker(server, ["subscribe", "--connections", str(stalled_count),
                                  "--stall-every", "1"])
        stalled.next("ready", 60)
        with_stalls = publish(server, 1, rate, secs)
        expected += sum(with_stalls["sent_per_step"]) * opened
        tail = None
        if sizes["slow_tail_secs"]:
            tail = publish(server, 2, rate, sizes["slow_tail_secs"])
            expected += sum(tail["sent_per_step"]) * opened
        wait_until_settled([readers], expected, 60)
        report = readers.stop()
        stalled_report = stalled.stop()
    finally:
        sampling.set()
        server.stop()
    before = step_figures(0, rate, secs, sum(baseline["sent_per_step"]), opened, [report])
    after = step_figures(1, rate, secs, sum(with_stalls["sent_per_step"]), opened, [report])
    tail_figures = tail and step_figures(2, rate, sizes["slow_tail_secs"],
                                         sum(tail["sent_per_step"]), opened, [report])
    rss = [kib for _, kib in samples]
    rise = None
    if before["p99_ms"] and after["p99_ms"]:
        rise = (after["p99_ms"] / before["p99_ms"] - 1) * 100
    return {
        "subscribers": opened + stalled_count,
        "stalled": stalled_count,
        "rate": rate,
        "secs": secs,
        "baseline_p99_ms": before["p99_ms"],
        "p99_ms": after["p99_ms"],
        "p99_rise_pct": rise,
        "rss_samples_kib": samples,
        "rss_peak_kib": max(rss) if rss else None,
        "rss_end_kib": rss[-1] if rss else None,
        "lost_among_readers": before["lost"] + after["lost"] + (tail_figures["lost"] if tail else 0),
        "closed_by_server": closed_by_server([stalled_report]),
    }


# --- targets (issue 5) -----------------------------------------------------------------------

def sustained(fanout_figures):
    """The best delivered rate of a step that lost nothing and kept p99 under a second."""
    good = [step for step in fanout_figures.get("steps", [])
            if step["lost"] == 0 and step["p99_ms"] is not None and step["p99_ms"] <= 1000
            and step["delivered_deliveries_per_sec"]]
    return max((step["delivered_deliveries_per_sec"] for step in good), default=None)


def targets(results):
    def get(scenario, name):
        return results.get(scenario, {}).get(name, {})

    def fmt(value, unit=""):
        return "—" if value is None else f"{value:,.1f}{unit}"

    rows = []
    idle = get("idle", "huddle")
    per_conn = idle.get("rss_per_connection_bytes")
    rows.append({
        "goal": "≥ 19,000 connections held by one process, RSS ≤ 4 KiB each",
        "measured": f"{idle.get('connections', 0):,} held, "
                    f"{fmt(per_conn and per_conn / 1024, ' KiB')} each",
        "met": bool(idle.get("connections", 0) >= 19_000 and per_conn is not None
                    and per_conn <= 4096),
    })
    huddle = sustained(get("fanout_1000", "huddle"))
    node = sustained(get("fanout_1000", "node-ws"))
    bare = sustained(get("fanout_1000", "tungstenite"))
    rows.append({
        "goal": "fan-out to 1,000: ≥ 2× Node ws deliveries/s",
        "measured": f"{fmt(huddle)} vs {fmt(node)}"
                    + (f" ({huddle / node:.2f}×)" if huddle and node else ""),
        "met": bool(huddle and node and huddle >= 2 * node),
    })
    rows.append({
        "goal": "fan-out to 1,000: ≥ bare tokio-tungstenite deliveries/s",
        "measured": f"{fmt(huddle)} vs {fmt(bare)}"
                    + (f" ({huddle / bare:.2f}×)" if huddle and bare else ""),
        "met": bool(huddle and bare and huddle >= bare),
    })
    rows.append({
        "goal": "fan-out to 1,000: ≥ 150,000 deliveries/s",
        "measured": fmt(huddle, "/s"),
        "met": bool(huddle and huddle >= 150_000),
    })
    large = [s for s in get("fanout_10000", "huddle").get("steps", []) if s["rate"] == 10]
    completion = large[0]["completion_p99_ms"] if large else None
    rows.append({
        "goal": "fan-out to 10,000 at 10 msg/s: completion p99 ≤ 200 ms",
        "measured": fmt(completion, " ms"),
        "met": bool(completion is not None and completion <= 200 and large[0]["lost"] == 0),
    })
    light = [s for s in get("fanout_1000", "huddle").get("steps", []) if s["rate"] == 10]
    light_p99 = light[0]["p99_ms"] if light else None
    rows.append({
        "goal": "light load (1,000 subscribers, 10 msg/s): delivery p99 ≤ 10 ms",
        "measured": fmt(light_p99, " ms"),
        "met": bool(light_p99 is not None and light_p99 <= 10),
    })
    connect = get("connect", "huddle")
    rows.append({
        "goal": "≥ 5,000 handshakes/s with p99 ≤ 50 ms",
        "measured": f"{fmt(connect.get('handshakes_per_sec'), '/s')}, "
                    f"p99 {fmt(connect.get('p99_ms'), ' ms')}",
        "met": bool((connect.get("handshakes_per_sec") or 0) >= 5_000
                    and (connect.get("p99_ms") or 1e9) <= 50),
    })
    slow = get("slow_consumers", "huddle")
    rise = slow.get("p99_rise_pct")
    closed = sum(slow.get("closed_by_server", {}).values())
    rows.append({
        "goal": "1% slow consumers: others' p99 rises ≤ 20 %, memory bounded, stalled closed",
        "measured": f"p99 {fmt(slow.get('baseline_p99_ms'), ' ms')} → "
                    f"{fmt(slow.get('p99_ms'), ' ms')} ({fmt(rise, ' %')}); "
                    f"RSS peak {fmt((slow.get('rss_peak_kib') or 0) / 1024, ' MiB')}; "
                    f"{closed} of {slow.get('stalled', 0)} stalled closed",
        "met": bool(rise is not None and rise <= 20 and slow.get("lost_among_readers") == 0
                    and slow.get("stalled") and closed == slow.get("stalled")),
    })
    return rows


# --- the run ---------------------------------------------------------------------------------

def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "rustc": command_output(["rustc", "--version"]),
        "node": command_output(["node", "--version"]),
        "python": platform.python_version(),
        "open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def labels():
    versions = {
        "ws": json.loads((ROOT / "bench/peers/node-ws/package.json").read_text())
        ["dependencies"]["ws"],
        "node": command_output(["node", "--version"]),
        "websockets": (ROOT / "bench/peers/python-websockets/requirements.txt")
        .read_text().split("==")[1].strip(),
        "python": command_output([SERVERS["python-websockets"]["command"][0], "--version"]),
    }
    return {name: spec["label"].format(**versions) for name, spec in SERVERS.items()}


def run_scenario(results, scenario, name, function):
    if scenario not in run_scenario.chosen:
        return
    print(f"[bench] {scenario}: {name}", flush=True)
    try:
        results.setdefault(scenario, {})[name] = function()
    except Exception as error:  # One server failing must not cost the others' figures.
        print(f"[bench] {scenario}: {name} failed: {error!r}", file=sys.stderr, flush=True)
        results.setdefault(scenario, {})[name] = {"error": repr(error)}
    finally:
        Worker.end_all()


def add_baseline(named):
    """Adds server "huddle@NAME" for `NAME=BINARY`: another build of Huddle (an earlier
    commit's, say), run with this one's flags, less any it does not know (its `--help` does
    not list them), so that `--servers huddle,huddle@NAME` shows in one run whether a change
    costs speed."""
    name, _, binary = named.partition("=")
    if not name or not binary:
        sys.exit(f"--baseline {named!r}: expected NAME=BINARY")
    binary = pathlib.Path(binary).resolve()
    known = command_output([str(binary), "--help"])
    if known is None:
        sys.exit(f"--baseline {binary}: it does not run (--help failed)")
    command = [str(binary)]
    keep = True
    for part in SERVERS["huddle"]["command"][1:]:
        if part.startswith("--"):
            keep = part in known  # A flag's value goes with its flag.
        if keep:
            command.append(part)
    SERVERS[f"huddle@{name}"] = dict(
        SERVERS["huddle"], command=command, label=f"Huddle {name} ({binary})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to try the suite")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument("--scenarios",
                        default="idle,fanout_1000,fanout_10000,many_rooms,slow_consumers",
                        help="comma-separated")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--command", default="make bench")
    parser.add_argument("--baseline", metavar="NAME=BINARY", action="append", default=[],
                        help="another Huddle build, to run as server huddle@NAME (repeatable)")
    args = parser.parse_args()
    for named in args.baseline:
        add_baseline(named)
    sizes = QUICK if args.quick else FULL
    names = [name for name in args.servers.split(",") if name]
    # Every baseline asked for runs, named in --servers or not.
    names += [name for name in SERVERS if name.startswith("huddle@") and name not in names]
    run_scenario.chosen = set(args.scenarios.split(","))
    raise_file_limit()

    started = time.monotonic()
    results = {
        "machine": machine(),
        "command": args.command + (" (--quick)" if args.quick else ""),
        "servers": {name: label for name, label in labels().items() if name in names},
        "message_bytes": MESSAGE_BYTES,
    }
    with tempfile.TemporaryDirectory(prefix="huddle-bench-") as tmp:
        if any(SERVERS[name]["protocol"] == "plain" for name in names):
            WIRE["bytes"] = measure_wire_bytes(tmp)
            Worker.end_all()
            print(f"[bench] a Huddle message of {MESSAGE_BYTES} bytes of text is "
                  f"{WIRE['bytes']} bytes on the wire; the peers' messages are that long",
                  flush=True)
        results["wire_bytes"] = WIRE["bytes"]
        for name in names:
            def idle():
                figures = idle_and_connect(name, tmp, sizes)
                results.setdefault("connect", {})[name] = figures[1]
                return figures[0]
            run_scenario(results, "idle", name, idle)
            run_scenario(results, "fanout_1000", name, lambda: fanout(
                name, tmp, sizes["fanout_small"], sizes["fanout_small_rates"], sizes, 2))
            run_scenario(results, "fanout_10000", name, lambda: fanout(
                name, tmp, sizes["fanout_large"], sizes["fanout_large_rates"], sizes, 4))
            run_scenario(results, "many_rooms", name, lambda: fanout(
                name, tmp, sizes["rooms"] * sizes["room_members"], sizes["rooms_rates"], sizes,
                4, rooms=sizes["rooms"]))
            run_scenario(results, "slow_consumers", name, lambda: slow_consumers(
                name, tmp, sizes, sizes["fanout_small"]))
    results["duration_secs"] = round(time.monotonic() - started, 1)
    results["targets"] = targets(results)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=1) + "\n")
    sys.path.insert(0, str(ROOT / "bench"))
    import report
    report.render(results, out)
    print(f"[bench] wrote {out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
