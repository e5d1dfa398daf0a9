#!/usr/bin/env python3
"""Huddle's soak: a running server under mixed load for a bounded time, and what it did.

Run through scripts/soak.sh, which starts the release build on loopback with a fresh SQLite
file. Load, all at once, for --seconds:

- talkers: anonymous raw clients that join a room of a pool of --rooms names (resuming from
  the last seq they hold for it), send a few messages, wait for their acks and copies, leave,
  and go on to another room; now and then they drop the socket without a close (reconnect
  churn) and come back resuming;
- guests: people who pick a display name over HTTP (a session cookie), chat in the lobby
  through a socket, and log out, which ends the session and closes their socket (4001).

Every second it samples the server's RSS and open file descriptors (/proc) and the rooms and
connections it reports at /metrics, and prints a line every --report-every seconds. After the
load it waits for the idle rooms to leave memory, then checks, from what clients received and
what the history API returns:

- lost: an acked message missing from the store, or a seq a client in the room never got
  (every client resumes from its own last seq, so what it receives must follow on, one by one);
- duplicated: a seq a client received twice, or two stored messages with one client_id.

It prints the figures and the slope of RSS and fds over the second half of the load, and exits
1 if anything was lost or duplicated, if connections or rooms are left over once the load
stopped, or if fds after the load are above their level before it by more than the database
pool's readers.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
import urllib.parse
import urllib.request

import websockets

PATIENCE = 10.0


class Tally:
    def __init__(self):
        self.sent = 0
        self.acked = 0
        self.delivered = 0
        self.lost = 0
        self.duplicated = 0
        self.reconnects = 0
        self.joins = 0
        self.resyncs = 0
        self.guests = 0
        self.refused = {}
        self.acks = {}  # (room, client_id) -> seq
        self.problems = []

    def problem(self, text):
        if len(self.problems) < 20:
            self.problems.append(text)


def http(base, method, path, fields=None, cookie=None):
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("origin", base)
    if cookie:
        request.add_header("cookie", cookie)
    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
        return response.status, response.headers, response.read()


class Member:
    """One socket and what it holds: the last seq it received in each room it visited."""

    def __init__(self, url, tally, held, cookie=None):
        self.url = url
        self.tally = tally
        self.held = held  # room -> last seq received, kept across sockets
        self.cookie = cookie
        self.ws = None
        self.room = "lobby"

    async def connect(self):
        headers = {"cookie": self.cookie} if self.cookie else None
        since = self.held.get("lobby")
        url = self.url + (f"?since={since}" if since is not None else "")
        self.ws = await websockets.connect(url, additional_headers=headers, max_size=1 << 20,
                                           open_timeout=PATIENCE)
        welcome = await self.frame()
        assert welcome["type"] == "welcome", welcome
        self.room = "lobby"

    async def frame(self):
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), PATIENCE)
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "ping":
                await self.ws.send(json.dumps({"type": "pong", "t": frame["t"]}))
            elif kind in ("presence", "members", "typing", "notice", "room_added"):
                pass
            elif kind == "message":
                self.received(frame)
                return frame
            else:
                return frame

    def received(self, message):
        room, seq = message["room"], message["seq"]
        last = self.held.get(room)
        if last is None:
            # First visit, joined live: whatever comes first is where it starts.
            self.held[room] = seq
            self.tally.delivered += 1
            return
        if seq <= last:
            self.tally.duplicated += 1
            self.tally.problem(f"{room}: seq {seq} again after {last}")
        elif seq != last + 1:
            self.tally.lost += seq - last - 1
            self.tally.problem(f"{room}: seq {seq} after {last}: {seq - last - 1} never came")
            self.held[room] = seq
        else:
            self.held[room] = seq
            self.tally.delivered += 1

    async def join(self, room):
        # A room never visited is read from its start: every seq must then follow on.
        since = self.held.setdefault(room, 0)
        await self.ws.send(json.dumps({"type": "join", "room": room, "since": since}))
        while True:
            frame = await self.frame()
            if frame["type"] == "joined" and frame["room"] == room:
                self.held.setdefault(room, frame["head"])
                self.room = room
                self.tally.joins += 1
                return True
            if frame["type"] == "resync" and frame["room"] == room:
                # Too far behind to replay: start over from the head, as a client would
                # after loading the latest page.
                self.tally.resyncs += 1
                self.held[room] = frame["head"]
                return False
            if frame["type"] == "error":
                self.count_refusal(frame["code"])
                return False

    async def leave(self):
        room = self.room
        await self.ws.send(json.dumps({"type": "leave", "room": room}))
        while True:
            frame = await self.frame()
            if frame["type"] == "left" and frame["room"] == room:
                self.room = "lobby"
                return
            if frame["type"] == "error":
                # Refused (rate_limited): still in the room, asked again after a pause.
                self.count_refusal(frame["code"])
                await asyncio.sleep(0.2)
                await self.ws.send(json.dumps({"type": "leave", "room": room}))

    def count_refusal(self, code):
        self.tally.refused[code] = self.tally.refused.get(code, 0) + 1

    async def say(self, count):
        """Sends `count` messages and waits for each one's ack and its own copy."""
        waiting = {}
        for _ in range(count):
            client_id = f"{os.getpid()}-{random.getrandbits(64):016x}"
            text = f"soak {client_id}"
            await self.ws.send(json.dumps({"type": "send", "room": self.room,
                                           "client_id": client_id, "text": text}))
            self.tally.sent += 1
            waiting[client_id] = [False, False]  # acked, copy seen
        while waiting:
            frame = await self.frame()
            kind = frame["type"]
            client_id = frame.get("client_id")
            if kind == "ack" and client_id in waiting:
                self.tally.acked += 1
                self.tally.acks[(frame["room"], client_id)] = frame["seq"]
                waiting[client_id][0] = True
            elif kind == "message" and client_id in waiting:
                waiting[client_id][1] = True
            elif kind == "error":
                code = frame["code"]
                self.count_refusal(code)
                if code == "rate_limited":
                    await asyncio.sleep(0.2)
                return
            for done in [c for c, (acked, seen) in waiting.items() if acked and seen]:
                del waiting[done]

    async def drop(self):
        """Gone without a close frame, as a phone going into a tunnel."""
        self.ws.transport.abort()
        self.ws = None

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


async def talker(url, rooms, deadline, tally):
    held = {}
    member = Member(url, tally, held)
    await member.connect()
    while time.monotonic() < deadline:
        if await member.join(random.choice(rooms)):
            await member.say(random.randint(1, 3))
            await member.leave()
        # A person's pace: about 6 frames a second, inside the server's default rate limit.
        await asyncio.sleep(random.uniform(0.5, 1.0))
        if random.random() < 0.15:
            await member.drop()
            tally.reconnects += 1
            await asyncio.sleep(random.uniform(0.05, 0.3))
            await member.connect()
    await member.close()


async def guests(base, url, deadline, tally):
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        name = f"Guest {random.getrandbits(24):06x}"
        _, headers, _ = await loop.run_in_executor(
            None, lambda: http(base, "POST", "/api/choose_name", {"name": name}))
        cookie = headers["set-cookie"].split(";", 1)[0]
        tally.guests += 1
        member = Member(url, tally, {}, cookie)
        await member.connect()
        await member.say(1)
        await loop.run_in_executor(None, lambda: http(base, "POST", "/api/logout", {}, cookie))
        # Logging out closes the guest's socket: 4001, and the session is gone.
        try:
            while True:
                await member.frame()
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 4001:
                tally.problem(f"a guest's socket closed with {closed.rcvd} after logout")
        member.ws = None


def metrics(metrics_url):
    with urllib.request.urlopen(metrics_url, timeout=PATIENCE) as response:
        text = response.read().decode()
    values = {}
    for name in ("huddle_rooms_in_memory", "huddle_connections_open"):
        found = re.search(rf"^{name} (\S+)$", text, re.M)
        values[name] = int(float(found.group(1))) if found else -1
    return values


def sample(pid, metrics_url):
    with open(f"/proc/{pid}/status") as status:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    values = metrics(metrics_url)
    return {"rss_mb": rss_kb / 1024, "fds": fds,
            "rooms": values["huddle_rooms_in_memory"],
            "connections": values["huddle_connections_open"]}


def slope(points):
    """Least-squares slope of (t, y) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (y - mean_y) for t, y in points) / var


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", required=True)
    parser.add_argument("--metrics", required=True, help="the server's --metrics-addr")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--talkers", type=int, default=40)
    parser.add_argument("--guests", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--room-idle-secs", type=float, default=2)
    parser.add_argument("--report-every", type=float, default=5)
    args = parser.parse_args()
    base = f"http://{args.addr}"
    url = f"ws://{args.addr}/ws"
    metrics_url = f"http://{args.metrics}/metrics"
    tally = Tally()
    rooms = [f"soak-{n}" for n in range(args.rooms)]

    before = sample(args.pid, metrics_url)
    print(f"before: rss {before['rss_mb']:.1f} MB, fds {before['fds']}, rooms {before['rooms']}")
    print(f"{'t (s)':>6} {'rss MB':>7} {'fds':>5} {'rooms':>6} {'conns':>6} "
          f"{'sent':>7} {'acked':>7} {'deliv':>7} {'lost':>5} {'dup':>4}")
    started = time.monotonic()
    deadline = started + args.seconds
    samples = []

    async def sampler():
        next_report = started
        while time.monotonic() < deadline:
            now = time.monotonic()
            figures = sample(args.pid, metrics_url)
            samples.append((now - started, figures))
            if now >= next_report:
                next_report += args.report_every
                print(f"{now - started:6.1f} {figures['rss_mb']:7.1f} {figures['fds']:5d} "
                      f"{figures['rooms']:6d} {figures['connections']:6d} {tally.sent:7d} "
                      f"{tally.acked:7d} {tally.delivered:7d} {tally.lost:5d} "
                      f"{tally.duplicated:4d}", flush=True)
            await asyncio.sleep(1)

    load = [talker(url, rooms, deadline, tally) for _ in range(args.talkers)]
    load += [guests(base, url, deadline, tally) for _ in range(args.guests)]
    results = await asyncio.gather(sampler(), *load, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures[:5]:
        tally.problem(f"a client failed: {failure!r}")

    # Every acked message is stored, once, at the seq its ack gave.
    loop = asyncio.get_running_loop()
    stored = {}
    for room in set(room for room, _ in tally.acks):
        before_seq = None
        while True:
            query = f"?before={before_seq}" if before_seq else ""
            _, _, body = await loop.run_in_executor(
                None, lambda: http(base, "GET", f"/api/rooms/{room}/messages{query}"))
            page = json.loads(body)
            for message in page["messages"]:
                key = (room, message["client_id"])
                if key in stored:
                    tally.duplicated += 1
                    tally.problem(f"{room}: client_id {message['client_id']} stored twice")
                stored[key] = message["seq"]
            if not page["has_more"] or not page["messages"]:
                break
            before_seq = page["messages"][0]["seq"]
    for key, seq in tally.acks.items():
        if stored.get(key) != seq:
            tally.lost += 1
            tally.problem(f"{key[0]}: acked {key[1]} at seq {seq}, stored: {stored.get(key)}")

    # Once the load is gone, so are its sockets and rooms.
    settle_deadline = time.monotonic() + PATIENCE + 2 * args.room_idle_secs
    while True:
        after = sample(args.pid, metrics_url)
        # The SQLite pool opens its readers (up to 4) as the load needs them.
        settled = after["connections"] == 0 and after["rooms"] <= 1 \
            and after["fds"] <= before["fds"] + 8
        if settled or time.monotonic() > settle_deadline:
            break
        await asyncio.sleep(0.2)

    second_half = [s for s in samples if s[0] >= args.seconds / 2]
    rss_slope = slope([(t, f["rss_mb"]) for t, f in second_half])
    fds_slope = slope([(t, f["fds"]) for t, f in second_half])
    peak_rooms = max((f["rooms"] for _, f in samples), default=0)
    print()
    print(f"load: {args.talkers} talkers over {args.rooms} rooms and {args.guests} guest loops "
          f"for {args.seconds:.0f} s")
    print(f"sent {tally.sent}, acked {tally.acked}, delivered {tally.delivered}, "
          f"lost {tally.lost}, duplicated {tally.duplicated}")
    print(f"joins {tally.joins}, reconnects {tally.reconnects}, guests {tally.guests}, "
          f"resyncs {tally.resyncs}, refused {tally.refused or 'none'}")
    print(f"rooms in memory: peak {peak_rooms}, after the load {after['rooms']}")
    print(f"second half: rss {rss_slope:+.2f} MB/min, fds {fds_slope:+.1f}/min")
    print(f"after the load: rss {after['rss_mb']:.1f} MB, fds {after['fds']} "
          f"(before: {before['fds']}), connections {after['connections']}")
    for problem in tally.problems:
        print(f"  problem: {problem}")
    ok = (tally.lost == 0 and tally.duplicated == 0 and not failures and settled
          and tally.acked > 0 and not tally.problems)
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
