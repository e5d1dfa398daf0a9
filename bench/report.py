#!/usr/bin/env python3
"""Turns one benchmark run's results into docs/benchmarks.md and docs/benchmarks-latency.svg.

The results JSON is written by the orchestrator, bench/run.py. Its schema is documented by
example in bench/sample-results.json: every scenario key may be missing (not run), any server
may be missing from a scenario, any number may be null (the server failed; an "error" string
then says why). This script renders whatever is there and never invents a number.

Usage:
    python3 bench/report.py [RESULTS_JSON] [--out DIR]
RESULTS_JSON defaults to docs/benchmarks.json and DIR to docs/, both relative to the repository
root. bench/run.py may instead `from report import render` and call render(results, out_dir).

Self-check: `python3 bench/report.py bench/sample-results.json --out /tmp/x` must exit 0.

Python 3.11 standard library only: the chart is SVG written by hand, not matplotlib.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from xml.sax.saxutils import escape

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO_ROOT / "docs" / "benchmarks.json"
DEFAULT_OUT_DIR = REPO_ROOT / "docs"
MARKDOWN_NAME = "benchmarks.md"
CHART_NAME = "benchmarks-latency.svg"

# The server every ratio is taken against.
BASELINE = "huddle"
# Table order: Huddle first, then its own library, the machine's ceiling, then the other
# ecosystems. Servers not listed here follow, in the order the JSON gives them.
SERVER_ORDER = ["huddle", "tungstenite", "rawtcp", "node-ws", "python-websockets"]
# Short names for table rows and the legend; the JSON's "servers" map holds the long ones.
SHORT_NAMES = {
    "huddle": "Huddle",
    "tungstenite": "tokio-tungstenite",
    "rawtcp": "raw TCP",
    "node-ws": "Node ws",
    "python-websockets": "Python websockets",
}

# A fan-out step counts as "sustained" only with no lost message and p99 within this bound:
# beyond a second a chat message is late however many of them arrive.
SUSTAINED_P99_LIMIT_MS = 1000.0

# Close code 0 is the load generator's marker for "the connection ended without a close frame".
NO_CLOSE_FRAME = "0"

MISSING = "—"
KIB_PER_MIB = 1024.0
BYTES_PER_KIB = 1024.0


# ---------------------------------------------------------------------------------------------
# Reading the results: tolerant of anything missing or null.


def number(record: dict | None, key: str) -> float | None:
    """The number at `key`, or None when absent, null or not a number (bool is not one)."""
    if not isinstance(record, dict):
        return None
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value)


def error_of(record: dict | None) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("error"), str) and record["error"]:
        return record["error"]
    return None


def ordered_servers(scenario: dict) -> list[str]:
    """Server keys of one scenario in table order: known ones first, unknown ones after."""
    known = [name for name in SERVER_ORDER if name in scenario]
    return known + [name for name in scenario if name not in SERVER_ORDER]


def short_name(server: str) -> str:
    return SHORT_NAMES.get(server, server)


def steps_of(record: dict | None) -> list[dict]:
    if not isinstance(record, dict) or not isinstance(record.get("steps"), list):
        return []
    return [step for step in record["steps"] if isinstance(step, dict)]


def sustained_step(record: dict | None) -> dict | None:
    """The step with the most deliveries/s that lost nothing and kept p99 within the limit."""
    best = None
    for step in steps_of(record):
        delivered = number(step, "delivered_deliveries_per_sec")
        lost = number(step, "lost")
        p99 = number(step, "p99_ms")
        if delivered is None or lost is None or p99 is None:
            continue
        if lost == 0 and p99 <= SUSTAINED_P99_LIMIT_MS:
            if best is None or delivered > number(best, "delivered_deliveries_per_sec"):
                best = step
    return best


def ramp_top(fanout: dict) -> float | None:
    """The highest rate any server in the scenario was offered: where the ramp ended."""
    rates = [number(step, "rate") for record in fanout.values() for step in steps_of(record)]
    rates = [rate for rate in rates if rate is not None]
    return max(rates) if rates else None


def is_top_step(step: dict | None, top: float | None) -> bool:
    """Whether `step` ran at the end of the ramp, so the server's real ceiling may lie higher.

    Measured against the whole scenario, not the server's own steps: the orchestrator stops a
    server's ramp early once it saturates, and its last step then is no ceiling-in-waiting.
    """
    rate = number(step, "rate")
    return rate is not None and top is not None and rate >= top


# ---------------------------------------------------------------------------------------------
# Formatting numbers for people.


def fmt_int(value: float | None) -> str:
    return MISSING if value is None else f"{round(value):,}"


def fmt_ms(value: float | None) -> str:
    """Milliseconds with the precision that matters: 0.93, 3.1, 30.2, 2,300."""
    if value is None:
        return MISSING
    if abs(value) < 1:
        return f"{value:.2f}"
    if abs(value) < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_mib_from_kib(kib: float | None) -> str:
    if kib is None:
        return MISSING
    mib = round(kib / KIB_PER_MIB, 1)
    return f"{mib + 0.0:,.1f}"  # + 0.0 turns -0.0 (a tiny negative delta) into 0.0


def fmt_kib_from_bytes(size: float | None) -> str:
    return MISSING if size is None else f"{size / BYTES_PER_KIB:,.2f}"


def fmt_pct(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:+.0f}%" if abs(value) >= 10 else f"{value:+.1f}%"


# Ratios smaller than this print as "< 0.01×": beyond that the digits say nothing more.
SMALLEST_RATIO = 0.01


def fmt_ratio(value: float | None) -> str:
    """A ratio to two significant figures: 0.45×, 1.0×, 2.3×, 17×."""
    if value is None:
        return MISSING
    if value < SMALLEST_RATIO:
        return f"< {SMALLEST_RATIO}×"
    rounded = float(f"{value:.2g}")
    if rounded >= 10:
        return f"{rounded:,.0f}×"
    if rounded >= 1:
        return f"{rounded:.1f}×"
    return f"{rounded:.2g}×"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def fmt_closed(closed: object) -> str:
    """Close codes the server sent, e.g. "10 × 4008"; "none" when it closed no one."""
    if not isinstance(closed, dict):
        return MISSING
    parts = []
    for code, count in sorted(closed.items(), key=lambda item: str(item[0])):
        if isinstance(count, bool) or not isinstance(count, (int, float)):
            return MISSING
        if count == 0:
            continue
        label = "no close frame" if str(code) == NO_CLOSE_FRAME else str(code)
        parts.append(f"{round(count):,} × {label}")
    return ", ".join(parts) if parts else "none"


def fmt_duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def fmt_date(value: str) -> str:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    suffix = " UTC" if when.utcoffset() is not None and when.utcoffset().total_seconds() == 0 else ""
    return when.strftime("%Y-%m-%d %H:%M") + suffix


def fmt_ms_short(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


def fmt_si(value: float) -> str:
    """Axis tick labels: 500, 10k, 2.5M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Markdown building blocks.


def md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A GitHub table: the first `text_columns` left-aligned (words), the rest right (numbers)."""
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |"]
    aligns = [":---" if i < text_columns else "---:" for i in range(len(headers))]
    lines.append("|" + "|".join(aligns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(md_cell(c) for c in row) + " |")
    return "\n".join(lines)


class ErrorNotes:
    """Failures of one table: the row gets a dagger, the reason goes below the table."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def label(self, server: str, record: dict | None) -> str:
        name = short_name(server)
        reason = error_of(record)
        # Idle records carry the first failed connection's error even when the run went on.
        if reason is None and isinstance(record, dict) and isinstance(record.get("first_error"), str):
            if record["first_error"] and (number(record, "failed") or 0) > 0:
                reason = "first failed connection: " + record["first_error"]
        if reason is None:
            return name
        self.notes.append(f"† {name}: {reason}")
        return name + " †"

    def render(self) -> str:
        return "\n\n" + "  \n".join(md_cell(note) for note in self.notes) if self.notes else ""


def scenario(results: dict, key: str) -> dict | None:
    value = results.get(key)
    return value if isinstance(value, dict) and value else None


def subscribers_phrase(fanout: dict, key: str) -> str:
    """"1,000 subscribers": as recorded (a quick run uses fewer), else as the key names them."""
    subscribers = next((number(r, "subscribers") for r in fanout.values()
                        if number(r, "subscribers") is not None), None)
    if subscribers is None and key.rpartition("_")[2].isdigit():
        subscribers = float(key.rpartition("_")[2])
    return f"{fmt_int(subscribers)} subscribers" if subscribers is not None else "many subscribers"


# ---------------------------------------------------------------------------------------------
# Sections of benchmarks.md, in the order they appear.


def intro_section(results: dict) -> str:
    command = results.get("command") if isinstance(results.get("command"), str) else "make bench"
    message_bytes = number(results, "message_bytes")
    wire_bytes = number(results, "wire_bytes")
    if message_bytes is not None and wire_bytes is not None:
        sizes = (f"a Huddle message carries {fmt_int(message_bytes)} bytes of text in a "
                 f"{fmt_int(wire_bytes)}-byte JSON frame (id, seq, room, sender, time), and the "
                 f"peers' messages are {fmt_int(wire_bytes)}-byte text frames, so every server "
                 "sends the same bytes per delivery")
    elif message_bytes is not None:
        sizes = f"every message is a {fmt_int(message_bytes)}-byte text frame"
    else:
        sizes = "every message is a small text frame"
    machine = results.get("machine") if isinstance(results.get("machine"), dict) else {}
    when = ""
    if isinstance(machine.get("date"), str) and machine["date"]:
        when += f" This run started {fmt_date(machine['date'])}"
    duration = number(results, "duration_secs")
    if duration is not None:
        when += (" and took " if when else " The run took ") + fmt_duration(duration)
    lines = [
        "# Benchmarks",
        "",
        "Huddle against peer WebSocket servers doing the same job: every server below ran the "
        "same workload, driven by the same load generator (`bench/loadgen`), on the same "
        f"machine, in the same run. Compression is off everywhere; {sizes}. The peers are deliberately plain broadcast servers, so the gap between "
        "them and Huddle is what Huddle's rooms, history and per-client queues cost or save. "
        "Huddle runs with `--queue-capacity 1024` (its default is 256): the tokio-tungstenite "
        "peer drops a reader more than 1,024 messages behind, and Huddle closes one whose "
        "queue overflows, so both give a slow reader the same slack. Every server runs one "
        "event-loop thread: Node and Python have one by nature, Huddle runs with "
        "`--worker-threads 1` (its default is one per core) and the Rust peers with "
        "`TOKIO_WORKER_THREADS=1`, so the load generator has the other core. Huddle also has "
        "its commit thread, which writes and syncs the history the peers do not keep.",
        "",
        f"Reproduce: `{command}`." + (when + "." if when else ""),
    ]
    servers = results.get("servers")
    if isinstance(servers, dict) and servers:
        lines += ["", "Servers compared:", ""]
        for server in ordered_servers(servers):
            lines.append(f"- **{short_name(server)}**: {servers[server]}")
    return "\n".join(lines)


MACHINE_FIELDS = [
    ("cpu", "CPU", str),
    ("cores", "Cores", lambda v: fmt_int(v) if isinstance(v, (int, float)) else str(v)),
    ("memory_gib", "Memory", lambda v: f"{v:,.1f} GiB" if isinstance(v, (int, float)) else str(v)),
    ("kernel", "Kernel", str),
    ("open_files", "Open-file limit", lambda v: fmt_int(v) if isinstance(v, (int, float)) else str(v)),
    ("rustc", "Rust", str),
    ("node", "Node.js", str),
    ("python", "Python", str),
]


def machine_section(results: dict) -> str | None:
    machine = results.get("machine")
    if not isinstance(machine, dict) or not machine:
        return None
    rows = []
    for key, label, fmt in MACHINE_FIELDS:
        if machine.get(key) is not None:
            rows.append([label, fmt(machine[key])])
    # The date is in the introduction; anything else the orchestrator adds is shown as-is.
    known = {key for key, _, _ in MACHINE_FIELDS} | {"date"}
    rows += [[key, str(value)] for key, value in machine.items() if key not in known and value is not None]
    return "## Machine\n\n" + md_table(["", "This run"], rows, text_columns=2)


def targets_section(results: dict) -> str | None:
    targets = results.get("targets")
    if not isinstance(targets, list) or not targets:
        return None
    rows = []
    for target in targets:
        if not isinstance(target, dict):
            continue
        met = target.get("met")
        mark = "✓" if met is True else "✗" if met is False else MISSING
        rows.append([target.get("goal") or MISSING, target.get("measured") or MISSING, mark])
    return "## Targets\n\n" + md_table(["Goal", "Measured", "Met"], rows, text_columns=2)


def idle_section(results: dict) -> str | None:
    idle = scenario(results, "idle")
    if idle is None:
        return None
    base = idle.get(BASELINE)
    notes = ErrorNotes()
    rows = []
    for server in ordered_servers(idle):
        record = idle[server]
        per_conn = number(record, "rss_per_connection_bytes")
        rows.append([
            notes.label(server, record),
            fmt_int(number(record, "connections")),
            fmt_int(number(record, "failed")),
            fmt_int(number(record, "ended_early")),
            fmt_kib_from_bytes(per_conn),
            fmt_mib_from_kib(number(record, "rss_kib")),
            fmt_mib_from_kib(number(record, "kernel_tcp_kib")),
            fmt_mib_from_kib(number(record, "slab_delta_kib")),
            fmt_ratio(ratio(number(base, "connections"), number(record, "connections"))),
            fmt_ratio(ratio(number(base, "rss_per_connection_bytes"), per_conn)),
        ])
    headers = [
        "Server", "Held", "Failed", "Ended early", "RSS / conn (KiB)", "Server RSS (MiB)",
        "Kernel TCP (MiB)", "Slab Δ (MiB)", "Held: Huddle ÷ peer", "RSS / conn: Huddle ÷ peer",
    ]
    explanation = (
        "Open the same number of connections to each server, each exchanging one frame, then "
        "hold them idle. "
        "*RSS / conn* is the server's resident memory above its empty-process baseline, divided "
        "by the connections it holds; kernel TCP memory and slab growth are machine-wide, so "
        "they include the load generator's end of each socket. "
        "A memory ratio below 1× means Huddle uses less."
    )
    return "## Idle connections\n\n" + explanation + "\n\n" + md_table(headers, rows) + notes.render()


def connect_section(results: dict) -> str | None:
    connect = scenario(results, "connect")
    if connect is None:
        return None
    base = connect.get(BASELINE)
    notes = ErrorNotes()
    rows = []
    for server in ordered_servers(connect):
        record = connect[server]
        rows.append([
            notes.label(server, record),
            fmt_int(number(record, "connections")),
            fmt_int(number(record, "handshakes_per_sec")),
            fmt_ms(number(record, "p50_ms")),
            fmt_ms(number(record, "p99_ms")),
            fmt_ms(number(record, "p999_ms")),
            fmt_ratio(ratio(number(base, "handshakes_per_sec"), number(record, "handshakes_per_sec"))),
        ])
    headers = ["Server", "Connections", "Handshakes/s", "p50 (ms)", "p99 (ms)", "p99.9 (ms)",
               "Handshakes/s: Huddle ÷ peer"]
    explanation = (
        "The ramp up to the idle population: connections open a bounded number at a time while "
        "the earlier ones stay held, and each counts once its WebSocket upgrade has completed "
        "and one Ping was answered. Handshakes/s is connections over the ramp's duration; "
        "latency is per handshake, "
        "from the start of the TCP connect to the 101 response. A ratio above 1× means Huddle "
        "accepts faster."
    )
    return "## Connection setup\n\n" + explanation + "\n\n" + md_table(headers, rows) + notes.render()


def bounded_ratio(base: dict | None, peer: dict | None, top: float | None) -> str:
    """Huddle ÷ peer sustained deliveries/s, marked ≥ or ≤ when a side only has a lower bound.

    A server that sustained even the top step has an unknown ceiling above it; when both did,
    the ratio says nothing and is left out.
    """
    base_step, peer_step = sustained_step(base), sustained_step(peer)
    value = ratio(number(base_step, "delivered_deliveries_per_sec"),
                  number(peer_step, "delivered_deliveries_per_sec"))
    if value is None:
        return MISSING
    base_capped, peer_capped = is_top_step(base_step, top), is_top_step(peer_step, top)
    if base is peer:
        return fmt_ratio(value)
    if base_capped and peer_capped:
        return MISSING
    if base_capped:
        return "≥ " + fmt_ratio(value)
    if peer_capped:
        return "≤ " + fmt_ratio(value)
    return fmt_ratio(value)


def light_load_line(fanout: dict) -> str | None:
    """Delivery p99 at Huddle's lowest rate, where no server is anywhere near its limit."""
    base_steps = [s for s in steps_of(fanout.get(BASELINE)) if number(s, "rate") is not None]
    if not base_steps:
        return None
    base_step = min(base_steps, key=lambda s: number(s, "rate"))
    rate = number(base_step, "rate")
    base_p99 = number(base_step, "p99_ms")
    parts = []
    for server in ordered_servers(fanout):
        if server == BASELINE:
            continue
        same_rate = [s for s in steps_of(fanout[server]) if number(s, "rate") == rate]
        peer_p99 = number(same_rate[0], "p99_ms") if same_rate else None
        if peer_p99 is None:
            parts.append(f"{short_name(server)} {MISSING}")
            continue
        parts.append(f"{short_name(server)} {fmt_ms(peer_p99)} ms "
                     f"({fmt_ratio(ratio(base_p99, peer_p99))})")
    offered = number(base_step, "offered_deliveries_per_sec")
    load = f"{fmt_int(rate)} messages/s"
    if offered is not None:
        load += f", {fmt_int(offered)} deliveries/s"
    line = (f"**Light load** ({load}): Huddle's delivery p99 is {fmt_ms(base_p99)} ms; "
            f"peers (Huddle ÷ peer in brackets, below 1× means Huddle is quicker): ")
    return line + ("; ".join(parts) if parts else "none ran") + "."


def fanout_section(results: dict, key: str) -> str | None:
    fanout = scenario(results, key)
    if fanout is None:
        return None
    who = subscribers_phrase(fanout, key)
    base = fanout.get(BASELINE)
    top = ramp_top(fanout)
    # Close codes may be tallied per step, for the whole ramp, or both; show what is there.
    closed_per_run = any(isinstance(r, dict) and isinstance(r.get("closed_by_server"), dict)
                         for r in fanout.values())
    closed_per_step = any(isinstance(step.get("closed_by_server"), dict)
                          for r in fanout.values() for step in steps_of(r))

    notes = ErrorNotes()
    summary = []
    for server in ordered_servers(fanout):
        record = fanout[server]
        step = sustained_step(record)
        delivered = fmt_int(number(step, "delivered_deliveries_per_sec"))
        if step is not None and is_top_step(step, top):
            delivered = "≥ " + delivered
        row = [
            notes.label(server, record),
            delivered if step is not None else "none",
            fmt_int(number(step, "rate")),
            fmt_ms(number(step, "p50_ms")),
            fmt_ms(number(step, "p99_ms")),
            fmt_ms(number(step, "p999_ms")),
            fmt_ms(number(step, "completion_p50_ms")),
            fmt_ms(number(step, "completion_p99_ms")),
        ]
        if closed_per_run:
            row.append(fmt_closed(record.get("closed_by_server") if isinstance(record, dict) else None))
        summary.append(row + [bounded_ratio(base, record, top)])
    summary_headers = [
        "Server", "Sustained deliveries/s", "At messages/s", "p50 (ms)", "p99 (ms)",
        "p99.9 (ms)", "Completion p50 (ms)", "Completion p99 (ms)",
    ]
    if closed_per_run:
        summary_headers.append("Closed by server (whole ramp)")
    summary_headers.append("Huddle ÷ peer")

    detail_headers = [
        "Server", "Messages/s", "Offered/s", "Delivered/s", "p50 (ms)", "p99 (ms)",
        "p99.9 (ms)", "Completion p99 (ms)", "Lost", "Dup",
    ]
    if closed_per_step:
        detail_headers.append("Closed by server")
    detail = []
    for server in ordered_servers(fanout):
        record = fanout[server]
        best = sustained_step(record)
        steps = steps_of(record)
        if not steps:
            detail.append([short_name(server)] + [MISSING] * (len(detail_headers) - 1))
        for index, step in enumerate(steps):
            delivered = fmt_int(number(step, "delivered_deliveries_per_sec"))
            row = [
                short_name(server) if index == 0 else "",
                fmt_int(number(step, "rate"))
                + (" (publisher dropped)" if step.get("publisher_dropped") else ""),
                fmt_int(number(step, "offered_deliveries_per_sec")),
                f"**{delivered}**" if step is best else delivered,
                fmt_ms(number(step, "p50_ms")),
                fmt_ms(number(step, "p99_ms")),
                fmt_ms(number(step, "p999_ms")),
                fmt_ms(number(step, "completion_p99_ms")),
                fmt_int(number(step, "lost")),
                fmt_int(number(step, "duplicates")),
            ]
            if closed_per_step:
                row.append(fmt_closed(step.get("closed_by_server")))
            detail.append(row)

    rooms = next((number(r, "rooms") for r in fanout.values() if number(r, "rooms")), None)
    members = next((number(r, "receivers_per_message") for r in fanout.values()
                    if number(r, "receivers_per_message")), None)
    if rooms:
        title = f"Many small rooms: {fmt_int(rooms)} rooms × {fmt_int(members)} members"
        shape = (f"{fmt_int(rooms)} rooms of {fmt_int(members)} subscribers each; the publisher "
                 "posts to the rooms in turn (one connection in each room, as a member would), "
                 "and every message goes to the subscribers of its room.")
        who = f"{fmt_int(rooms)} rooms"
    else:
        title = f"Fan-out to {who}"
        shape = (f"One room with {who}; publishers send on a fixed schedule at a rate that "
                 "steps up, and every message goes to every subscriber (one delivery each).")
    explanation = (
        f"{shape} The rate steps up until a server saturates. Latency runs from when "
        "a message was *due* to be sent to when it arrived, so a server that holds the "
        "publisher back cannot hide the wait; *completion* is when the last subscriber had it. "
        f"*Sustained* is the most deliveries/s at a step with nothing lost and p99 ≤ "
        f"{fmt_int(SUSTAINED_P99_LIMIT_MS)} ms; “≥” marks a server that sustained even the top "
        "step, whose ceiling is therefore higher. A ratio above 1× means Huddle delivers more."
    )
    parts = [f"## {title}", explanation, md_table(summary_headers, summary) + notes.render()]
    if key == "fanout_1000":
        line = light_load_line(fanout)
        if line:
            parts.append(line)
    parts += [
        f"### Every step, {who}",
        "The sustained step is in bold. *Lost* counts deliveries that never arrived, including "
        "to clients the server closed; *publisher dropped* marks a step cut short because the "
        "server closed the publishing connection itself"
        + ("; *Closed by server* gives close codes and how many subscribers got each." if closed_per_step
           else "."),
        md_table(detail_headers, detail),
    ]
    return "\n\n".join(parts)


def slow_consumers_section(results: dict) -> str | None:
    slow = scenario(results, "slow_consumers")
    if slow is None:
        return None
    base = slow.get(BASELINE)
    notes = ErrorNotes()
    rows = []
    for server in ordered_servers(slow):
        record = slow[server]
        rows.append([
            notes.label(server, record),
            fmt_int(number(record, "stalled")),
            fmt_ms(number(record, "baseline_p99_ms")),
            fmt_ms(number(record, "p99_ms")),
            fmt_pct(number(record, "p99_rise_pct")),
            fmt_mib_from_kib(number(record, "rss_peak_kib")),
            fmt_mib_from_kib(number(record, "rss_end_kib")),
            fmt_closed(record.get("closed_by_server") if isinstance(record, dict) else None),
            fmt_int(number(record, "lost_among_readers")),
            fmt_ratio(ratio(number(base, "p99_ms"), number(record, "p99_ms"))),
            fmt_ratio(ratio(number(base, "rss_peak_kib"), number(record, "rss_peak_kib"))),
        ])
    headers = [
        "Server", "Stalled", "Baseline p99 (ms)", "p99 with stalls (ms)", "p99 rise",
        "RSS peak (MiB)", "RSS end (MiB)", "Closed by server", "Lost among readers",
        "p99: Huddle ÷ peer", "RSS peak: Huddle ÷ peer",
    ]
    sample = base if isinstance(base, dict) else next(iter(slow.values()), {})
    setup = ""
    if all(number(sample, k) is not None for k in ("subscribers", "rate", "secs")):
        setup = (f" ({fmt_int(number(sample, 'subscribers'))} subscribers, "
                 f"{fmt_int(number(sample, 'rate'))} messages/s for {fmt_int(number(sample, 'secs'))} s)")
    explanation = (
        f"Fan-out as above{setup}, but some subscribers stop reading after their first frame, "
        "like clients on a dead network. The readers' p99 is compared with the same load "
        "without stalls, and the server's RSS is sampled throughout: a server that buffers for "
        "stalled clients grows, one that closes them stays flat. Traffic then goes on for a "
        "while at the same rate, so that the stalled clients meet the server's deadlines; "
        "*closed by server* says which of them it closed, and with which code. Ratios below 1× "
        "mean Huddle is quicker or smaller."
    )
    return "## Slow consumers\n\n" + explanation + "\n\n" + md_table(headers, rows) + notes.render()


def chart_section(results: dict) -> str:
    lines = ["## Latency under load", ""]
    fanout = scenario(results, "fanout_1000")
    if fanout is not None:
        who = subscribers_phrase(fanout, "fanout_1000")
        lines += [f"Delivery p99 against offered load for {who}, one line per server. "
                  "Hollow markers are steps that lost messages; above the dashed line a step "
                  "does not count as sustained.", ""]
    lines.append(f"![p99 delivery latency against offered load]({CHART_NAME})")
    return "\n".join(lines)


def how_to_read_section() -> str:
    return "\n".join([
        "## How to read this",
        "",
        "- Absolute numbers drift from run to run and machine to machine (CPU frequency, other "
        "load, kernel buffers). The ratios between servers measured in the same run are what "
        "count; compare a ratio across runs, not a raw number.",
        "- The load generator shares the machine with the server under test, so every server "
        "is measured with the same competition for CPU.",
        "- Servers differ in what they do with a client that cannot keep up, which shapes the "
        "slow-consumer and high-load rows. **Node ws** and **Python websockets** buffer for a "
        "slow client without bound: nothing is lost, but memory and latency grow. "
        "**tokio-tungstenite** (the peer) and **Huddle** close a client that lags too far "
        "behind, so the others are unaffected; Huddle says why with close code 4008. "
        "**raw TCP** drops a client the moment one write to it would block.",
        "- *Lost* includes messages for clients the server closed, so a server that protects "
        "its readers by closing laggards shows losses a buffering server does not; read *Lost* "
        "together with *Closed by server*.",
    ])


def markdown(results: dict) -> str:
    sections = [
        intro_section(results),
        machine_section(results),
        targets_section(results),
        idle_section(results),
        connect_section(results),
        fanout_section(results, "fanout_1000"),
        fanout_section(results, "fanout_10000"),
        fanout_section(results, "many_rooms"),
        slow_consumers_section(results),
        chart_section(results),
        elsewhere_section(),
        how_to_read_section(),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def elsewhere_section() -> str:
    """Figures from the suite's other runs, which need servers of their own."""
    return ("## Elsewhere\n\n"
            "- Several nodes: cross-node delivery latency, 1,000 subscribers over three nodes "
            "against one node, same run: [benchmarks-cluster.md](benchmarks-cluster.md) "
            "(`scripts/bench-cluster.sh`).\n"
            "- Durable messages/s and ack latency, SQLite and PostgreSQL, group commit against "
            "one transaction per message: [persistence.md](persistence.md) "
            "(`scripts/bench-persistence.sh`).")


# ---------------------------------------------------------------------------------------------
# The latency chart, hand-written SVG.

CHART_WIDTH, CHART_HEIGHT = 720, 420
# Plot area; the legend sits to its right so no line ever runs under it.
PLOT_LEFT, PLOT_TOP, PLOT_RIGHT, PLOT_BOTTOM = 76, 48, 540, 358
LEGEND_LEFT = 560
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
SERVER_COLORS = {
    "huddle": "#0072B2",
    "tungstenite": "#E69F00",
    "rawtcp": "#009E73",
    "node-ws": "#CC79A7",
    "python-websockets": "#D55E00",
}
EXTRA_COLORS = ["#56B4E9", "#000000", "#F0E442", "#999999"]
# Shapes as well as colours, so the lines stay apart in greyscale; fixed per server so a
# server looks the same in every run whichever others ran.
SERVER_MARKERS = {
    "huddle": "circle",
    "tungstenite": "square",
    "rawtcp": "triangle",
    "node-ws": "diamond",
    "python-websockets": "triangle-down",
}
EXTRA_MARKER = "square"
# The x range reaches this factor past the outermost steps so their markers clear the frame.
X_LOG_PADDING = 1.25
# The y axis starts at 0.1 ms unless something was quicker: below that is noise on any machine.
Y_FLOOR_MS = 0.1


class Axis:
    """Maps data values to pixels, on a linear or a log10 scale."""

    def __init__(self, low: float, high: float, pixel_low: float, pixel_high: float, log: bool):
        self.low, self.high, self.log = low, high, log
        self.pixel_low, self.pixel_high = pixel_low, pixel_high

    def _t(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def pixel(self, value: float) -> float:
        value = min(max(value, self.low), self.high)
        span = self._t(self.high) - self._t(self.low)
        fraction = (self._t(value) - self._t(self.low)) / span if span else 0.5
        return self.pixel_low + fraction * (self.pixel_high - self.pixel_low)

    def ticks(self) -> tuple[list[float], list[float]]:
        """(labelled ticks, unlabelled minor grid lines), all within the axis range."""
        if self.log:
            first = math.floor(math.log10(self.low) + 1e-9)
            last = math.ceil(math.log10(self.high) - 1e-9)
            decades = [10.0 ** e for e in range(first, last + 1)]
            # With few decades, label 2× and 5× too so the axis is not three lonely labels.
            multiples = (1, 2, 5) if math.log10(self.high / self.low) <= 3 else (1,)
            inside = lambda v: self.low * 0.9999 <= v <= self.high * 1.0001
            major = [d * m for d in decades for m in multiples if inside(d * m)]
            minor = [d * m for d in decades for m in range(2, 10)
                     if m not in multiples and inside(d * m)]
            return major, minor
        step = nice_step(self.high - self.low)
        count = int(math.floor((self.high - self.low) / step + 1e-9))
        return [self.low + i * step for i in range(count + 1)], []


def nice_step(span: float, target_ticks: int = 5) -> float:
    raw = span / target_ticks if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def decade_floor(value: float) -> float:
    return 10.0 ** math.floor(math.log10(value) + 1e-9)


def decade_ceil(value: float) -> float:
    return 10.0 ** math.ceil(math.log10(value) - 1e-9)


def marker_svg(shape: str, x: float, y: float, color: str, hollow: bool) -> str:
    fill = "#ffffff" if hollow else color
    style = f'fill="{fill}" stroke="{color}" stroke-width="1.6"'
    r = 4.2
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {style}/>'
    if shape in ("triangle", "triangle-down"):
        d = -1 if shape == "triangle" else 1
        points = [(x, y + d * r * 1.2), (x - r * 1.1, y - d * r * 0.8), (x + r * 1.1, y - d * r * 0.8)]
        return f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" {style}/>'
    if shape == "diamond":
        points = [(x, y - r * 1.3), (x + r * 1.1, y), (x, y + r * 1.3), (x - r * 1.1, y)]
        return f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {style}/>'


def svg_text(x: float, y: float, text: str, size: int = 12, anchor: str = "start",
             weight: str = "normal", color: str = "#222222", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{color}"{extra}>{escape(text)}</text>')


def svg_document(body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
            f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" font-family="{FONT}">')
    background = f'<rect width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#ffffff"/>'
    return "\n".join([head, background, *body, "</svg>"]) + "\n"


def no_data_svg() -> str:
    return svg_document([svg_text(CHART_WIDTH / 2, CHART_HEIGHT / 2, "no fan-out data",
                                  size=18, anchor="middle", color="#666666")])


def chart_series(fanout: dict) -> list[tuple[str, list[tuple[float, float | None, bool]]]]:
    """Per server, its steps as (offered/s, p99 ms or None, lost anything), by offered load."""
    series = []
    for server in ordered_servers(fanout):
        points = []
        for step in steps_of(fanout[server]):
            offered = number(step, "offered_deliveries_per_sec")
            if offered is None or offered <= 0:
                continue
            lost = number(step, "lost")
            points.append((offered, number(step, "p99_ms"), bool(lost)))
        points.sort(key=lambda p: p[0])
        series.append((server, points))
    return series


def latency_svg(results: dict) -> str:
    fanout = scenario(results, "fanout_1000")
    if fanout is None:
        return no_data_svg()
    series = chart_series(fanout)
    xs = [x for _, points in series for x, y, _ in points if y is not None]
    ys = [y for _, points in series for _, y, _ in points if y is not None]
    if not xs:
        return no_data_svg()

    positive = [y for y in ys if y > 0]
    y_low = min(Y_FLOOR_MS, decade_floor(min(positive))) if positive else Y_FLOOR_MS
    y_high = max(decade_ceil(max(ys)) if max(ys) > 0 else 1.0, y_low * 10)
    y_axis = Axis(y_low, y_high, PLOT_BOTTOM, PLOT_TOP, log=True)

    x_min, x_max = min(xs), max(xs)
    x_log = x_max / x_min > 10
    if x_log:
        x_axis = Axis(x_min / X_LOG_PADDING, x_max * X_LOG_PADDING, PLOT_LEFT, PLOT_RIGHT, log=True)
    else:
        step = nice_step(x_max)
        x_axis = Axis(0.0, step * math.ceil(x_max * 1.05 / step), PLOT_LEFT, PLOT_RIGHT, log=False)

    title = f"p99 delivery latency vs offered load, fan-out to {subscribers_phrase(fanout, 'fanout_1000')}"
    body = [svg_text(CHART_WIDTH / 2, 26, title, size=16, anchor="middle", weight="bold")]

    # Grid and tick labels first, so data is drawn over them.
    y_major, y_minor = y_axis.ticks()
    for value in y_minor:
        y = y_axis.pixel(value)
        body.append(f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{PLOT_RIGHT}" y2="{y:.1f}" stroke="#f0f0f0"/>')
    for value in y_major:
        y = y_axis.pixel(value)
        body.append(f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{PLOT_RIGHT}" y2="{y:.1f}" stroke="#d9d9d9"/>')
        body.append(svg_text(PLOT_LEFT - 8, y + 4, f"{value:,g}", anchor="end"))
    x_major, x_minor = x_axis.ticks()
    for value in x_minor:
        x = x_axis.pixel(value)
        body.append(f'<line x1="{x:.1f}" y1="{PLOT_TOP}" x2="{x:.1f}" y2="{PLOT_BOTTOM}" stroke="#f0f0f0"/>')
    for value in x_major:
        x = x_axis.pixel(value)
        body.append(f'<line x1="{x:.1f}" y1="{PLOT_TOP}" x2="{x:.1f}" y2="{PLOT_BOTTOM}" stroke="#d9d9d9"/>')
        body.append(svg_text(x, PLOT_BOTTOM + 18, fmt_si(value), anchor="middle"))
    body.append(f'<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PLOT_RIGHT - PLOT_LEFT}" '
                f'height="{PLOT_BOTTOM - PLOT_TOP}" fill="none" stroke="#555555"/>')

    # The "sustained" bound, when it falls inside the plotted range.
    if y_low < SUSTAINED_P99_LIMIT_MS <= y_high:
        y = y_axis.pixel(SUSTAINED_P99_LIMIT_MS)
        body.append(f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{PLOT_RIGHT}" y2="{y:.1f}" '
                    f'stroke="#777777" stroke-width="1.2" stroke-dasharray="6,4"/>')

    x_scale = "log scale" if x_log else "linear scale"
    body.append(svg_text((PLOT_LEFT + PLOT_RIGHT) / 2, PLOT_BOTTOM + 42,
                         f"offered deliveries per second ({x_scale})", size=13, anchor="middle"))
    middle_y = (PLOT_TOP + PLOT_BOTTOM) / 2
    body.append(svg_text(20, middle_y, "p99 delivery latency (ms, log scale)", size=13,
                         anchor="middle", extra=f' transform="rotate(-90 20 {middle_y:.1f})"'))

    # Data: one polyline per server, broken where a step has no p99.
    legend_y = PLOT_TOP + 10
    extra_colors = iter(EXTRA_COLORS * 10)
    for server, points in series:
        color = SERVER_COLORS.get(server) or next(extra_colors)
        shape = SERVER_MARKERS.get(server, EXTRA_MARKER)
        runs: list[list[tuple[float, float, bool]]] = [[]]
        for x, y, lost in points:
            if y is None:
                runs.append([])
            else:
                runs[-1].append((x_axis.pixel(x), y_axis.pixel(max(y, y_low)), lost))
        for run in runs:
            if len(run) > 1:
                coords = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in run)
                body.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                            f'stroke-width="2" stroke-linejoin="round"/>')
            body.extend(marker_svg(shape, px, py, color, lost) for px, py, lost in run)

        has_data = any(run for run in runs)
        body.append(f'<line x1="{LEGEND_LEFT}" y1="{legend_y:.1f}" x2="{LEGEND_LEFT + 26}" '
                    f'y2="{legend_y:.1f}" stroke="{color}" stroke-width="2"/>')
        body.append(marker_svg(shape, LEGEND_LEFT + 13, legend_y, color, hollow=False))
        body.append(svg_text(LEGEND_LEFT + 34, legend_y + 4, short_name(server),
                             color="#222222" if has_data else "#888888"))
        if not has_data:
            # On a line of its own: "Python websockets (no data)" would not fit the margin.
            legend_y += 14
            body.append(svg_text(LEGEND_LEFT + 34, legend_y + 4, "no data", size=10, color="#888888"))
        legend_y += 22

    # Key to the hollow markers and the dashed line.
    legend_y += 8
    body.append(marker_svg("circle", LEGEND_LEFT + 13, legend_y, "#555555", hollow=True))
    body.append(svg_text(LEGEND_LEFT + 34, legend_y + 4, "lost messages", size=11, color="#555555"))
    legend_y += 20
    body.append(f'<line x1="{LEGEND_LEFT}" y1="{legend_y:.1f}" x2="{LEGEND_LEFT + 26}" y2="{legend_y:.1f}" '
                f'stroke="#777777" stroke-width="1.2" stroke-dasharray="6,4"/>')
    body.append(svg_text(LEGEND_LEFT + 34, legend_y + 4,
                         f"sustain limit, {fmt_ms_short(SUSTAINED_P99_LIMIT_MS)}", size=11, color="#555555"))
    return svg_document(body)


# ---------------------------------------------------------------------------------------------
# Entry points.


def render(results: dict, out_dir: pathlib.Path) -> None:
    """Writes benchmarks.md and benchmarks-latency.svg for `results` into `out_dir`."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    svg = latency_svg(results)
    # A malformed chart would show as a broken image on GitHub; fail here instead.
    ElementTree.fromstring(svg)
    (out_dir / CHART_NAME).write_text(svg, encoding="utf-8")
    (out_dir / MARKDOWN_NAME).write_text(markdown(results), encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Render benchmark results as Markdown and SVG.")
    parser.add_argument("results", nargs="?", type=pathlib.Path, default=DEFAULT_RESULTS,
                        help="results JSON (default: docs/benchmarks.json)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT_DIR,
                        help="directory for benchmarks.md and benchmarks-latency.svg (default: docs)")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        print(f"report.py: cannot read {args.results}: {error}", file=sys.stderr)
        return 1
    if not isinstance(results, dict):
        print(f"report.py: {args.results} is not a JSON object", file=sys.stderr)
        return 1
    render(results, args.out)
    print(f"wrote {args.out / MARKDOWN_NAME} and {args.out / CHART_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
