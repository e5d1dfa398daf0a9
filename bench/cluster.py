#!/usr/bin/env python3
"""Cross-node delivery latency: 1,000 subscribers spread over three Huddle nodes (one
PostgreSQL, one Redis), a publisher on the first node, at 10 and 100 msg/s; against the same
load on one node with the same PostgreSQL, in the same run. Writes docs/benchmarks-cluster.json
and docs/benchmarks-cluster.md. Run it with `scripts/bench-cluster.sh` (which builds first).

A delivery's latency is from the moment the publisher meant to send it to its arrival at a
subscriber (the load generator's clock, one machine). The nodes and the single node each get
one worker thread (--worker-threads 1), as in bench/run.py; at these rates no server is near
saturation, so the comparison is what crossing Redis costs, not a contest for cores.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (the suite's workers, publishing and merging, shared)

ROOT = run.ROOT
NODE_PORTS = [3491, 3492, 3493]
PG_PORT = 55452
REDIS_PORT = 56391
SUBSCRIBERS = 1000
RATES = [10, 100]


def start_postgres():
    env = {**os.environ, "HUDDLE_TEST_PG_PORT": str(PG_PORT)}
    url = subprocess.check_output([str(ROOT / "scripts" / "postgres.sh"), "start"], env=env,
                                  text=True).strip()
    return url


def stop_postgres():
    env = {**os.environ, "HUDDLE_TEST_PG_PORT": str(PG_PORT)}
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], env=env, check=False)


def fresh_database(base_url, name):
    """A new, empty database on the bench server: every scenario starts from seq 0 and no
    scenario's client ids meet another's (they would be deduplicated, not delivered)."""
    subprocess.run(["psql", base_url, "-q", "-c", f"DROP DATABASE IF EXISTS {name}",
                    "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return base_url.rsplit("/", 1)[0] + "/" + name


def start_node(port, database, redis):
    """A Huddle node with the settings bench/run.py gives Huddle, history in `database`."""
    command = [part.format(port=port, tmp="") for part in run.SERVERS["huddle"]["command"]]
    command[command.index("--database") + 1] = database
    if redis:
        command += ["--redis", redis]
    return run.launch(command, run.SERVERS["huddle"]["ready"], {})


def endpoint(port):
    return types.SimpleNamespace(url=f"ws://127.0.0.1:{port}/ws", protocol="huddle")


def scenario(label, database, redis, nodes, step_secs):
    """`SUBSCRIBERS` readers spread evenly over `nodes` nodes (one worker per node), one
    publisher on the first node stepping through `RATES`."""
    servers = [start_node(port, database, redis) for port in NODE_PORTS[:nodes]]
    try:
        workers = [run.Worker(endpoint(NODE_PORTS[n]), ["subscribe", "--connections", str(count)])
                   for n, count in enumerate(run.split(SUBSCRIBERS, nodes))]
        readers = sum(worker.next("ready", 240)["opened"] for worker in workers)
        expected, plan, acks = 0, [], {}
        for step, rate in enumerate(RATES):
            report = run.publish(endpoint(NODE_PORTS[0]), step, rate, step_secs)
            acks[step] = report
            sent = sum(report["sent_per_step"])
            expected += sent * readers
            run.wait_until_settled(workers, expected, 60)
            plan.append((step, rate, sent))
        reports = [worker.stop() for worker in workers]
    finally:
        run.Worker.end_all()
        for server in servers:
            run.terminate(server)
    steps = []
    for step, rate, sent in plan:
        figures = run.step_figures(step, rate, step_secs, sent, readers, reports)
        figures["ack_p99_ms"] = (acks[step]["acks"]["p99_us"] or 0) / 1000
        figures["unacked"] = acks[step]["unacked"]
        steps.append(figures)
    print(f"[cluster-bench] {label}: " + "; ".join(
        f"{s['rate']} msg/s p50 {s['p50_ms']:.2f} ms p99 {s['p99_ms']:.2f} ms "
        f"lost {s['lost']} dup {s['duplicates']}" for s in steps), flush=True)
    return {"label": label, "nodes": nodes, "subscribers": readers, "steps": steps}


def render(results):
    single, cluster = results["single"], results["cluster"]
    lines = [
        "# Cross-node delivery latency",
        "",
        f"Produced by `{results['command']}` on {results['machine']['cpu']} "
        f"({results['machine']['cores']} cores), {results['date']}; "
        f"{results['duration_secs']} s in all. Raw figures: benchmarks-cluster.json.",
        "",
        f"{SUBSCRIBERS:,} subscribers in one room, a publisher on node 1. **One node**: every "
        "subscriber on it, history in PostgreSQL. **Three nodes**: the subscribers spread evenly "
        "over three nodes sharing that PostgreSQL and one Redis, so two thirds of the deliveries "
        "cross Redis. Both in the same run, same load generator, each node one worker thread. "
        "Latency is from the publisher's intended send time to arrival, over every delivery. "
        "Three nodes have three worker threads between them (on this machine's cores, shared "
        "with the load generator), so at the higher rate they also split the fan-out work: "
        "the ratio says what a reader pays for being on another node than the writer, with "
        "the cost of crossing Redis and the relief of sharing the fan-out both in it. "
        "Most of the p50 is PostgreSQL's commit (the ack column), which both setups pay.",
        "",
        "| rate | setup | p50 | p99 | p99.9 | ack p99 | delivered | lost | duplicated |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a, b in zip(single["steps"], cluster["steps"]):
        for name, s in (("one node", a), ("three nodes", b)):
            lines.append(
                f"| {s['rate']} msg/s | {name} | {s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | "
                f"{s['p999_ms']:.2f} ms | {s['ack_p99_ms']:.2f} ms | {s['delivered']:,} | "
                f"{s['lost']} | {s['duplicates']} |")
    lines += ["", "| rate | three nodes p99 / one node p99 | target |", "|---|---|---|"]
    for a, b in zip(single["steps"], cluster["steps"]):
        ratio = b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("nan")
        target = ("≤ 2× — " + ("met" if ratio <= 2 else "**not met**")) if a["rate"] == 100 else "—"
        lines.append(f"| {a['rate']} msg/s | {ratio:.2f}× | {target} |")
    lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1-second steps, to try it out")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    step_secs = 1.0 if args.quick else 10.0
    run.raise_file_limit()
    started = time.monotonic()
    base = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="huddle-cluster-bench-") as tmp:
            single = scenario("one node", fresh_database(base, "bench_single"), None, 1,
                              step_secs)
            redis = run.launch(["redis-server", "--bind", "127.0.0.1", "--port",
                                str(REDIS_PORT), "--save", "", "--appendonly", "no",
                                "--dir", tmp], "Ready to accept connections", {})
            try:
                cluster = scenario("three nodes", fresh_database(base, "bench_cluster"),
                                   f"redis://127.0.0.1:{REDIS_PORT}/", 3, step_secs)
            finally:
                run.terminate(redis)
    finally:
        stop_postgres()
    machine = run.machine()
    results = {
        "command": "scripts/bench-cluster.sh" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": machine.get("cpu", "?"), "cores": machine.get("cores", "?")},
        "duration_secs": round(time.monotonic() - started, 1),
        "single": single,
        "cluster": cluster,
    }
    out = pathlib.Path(args.out)
    (out / "benchmarks-cluster.json").write_text(json.dumps(results, indent=1) + "\n")
    markdown = render(results)
    (out / "benchmarks-cluster.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
