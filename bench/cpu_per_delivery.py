#!/usr/bin/env python3
"""CPU time Huddle builds spend per delivery under one fixed load, side by side: 1,000
subscribers in one room, a publisher at RATE msg/s for SECS seconds, the builds taking turns
ROUNDS times. Steadier than the saturation figures of make bench, whose top step swings by
several percent from run to run, so it is the one to show that a change costs nothing.

    python3 bench/cpu_per_delivery.py before=/tmp/huddle-old after=target/release/huddle

Each build runs with bench/run.py's Huddle flags (less any it does not know). Prints every
round and, per build, the least and the median nanoseconds of server CPU (user + system)
per delivery, and each build's median against the first's.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

RATE = int(os.environ.get("RATE", 1600))
SECS = float(os.environ.get("SECS", 8))
ROUNDS = int(os.environ.get("ROUNDS", 3))
SUBSCRIBERS = 1000


def cpu_secs(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(name, tmp):
    server = run.Server(f"huddle@{name}", tmp)
    try:
        workers = [run.Worker(server, ["subscribe", "--connections", str(n)])
                   for n in run.split(SUBSCRIBERS, 2)]
        readers = sum(worker.next("ready", 240)["opened"] for worker in workers)
        before = cpu_secs(server.process.pid)
        sent = sum(run.publish(server, 0, RATE, SECS)["sent_per_step"])
        run.wait_until_settled(workers, sent * readers, 60)
        used = cpu_secs(server.process.pid) - before
        for worker in workers:
            worker.stop()
    finally:
        server.stop()
        run.Worker.end_all()
    return sent, readers, used


def main():
    builds = [arg.split("=", 1)[0] for arg in sys.argv[1:]]
    if not builds:
        sys.exit(__doc__)
    for named in sys.argv[1:]:
        run.add_baseline(named)
    run.raise_file_limit()
    per_delivery = {name: [] for name in builds}
    with tempfile.TemporaryDirectory(prefix="huddle-cpu-") as tmp:
        for round_ in range(ROUNDS):
            for name in builds:
                sent, readers, used = one_round(name, tmp)
                ns = used / (sent * readers) * 1e9
                per_delivery[name].append(ns)
                print(f"round {round_ + 1} {name}: {sent} messages to {readers}, "
                      f"server CPU {used:.2f} s, {ns:.0f} ns per delivery", flush=True)
    medians = {}
    for name in builds:
        values = sorted(per_delivery[name])
        medians[name] = values[len(values) // 2]
    for name in builds:
        print(f"{name}: least {min(per_delivery[name]):.0f}, median {medians[name]:.0f} ns "
              f"per delivery ({medians[name] / medians[builds[0]]:.3f}x {builds[0]})")


if __name__ == "__main__":
    main()
