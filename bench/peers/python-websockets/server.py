"""Benchmark peer: websockets' own broadcast example on its modern asyncio API.

Every text frame goes verbatim to every open client of the same room, the sender included.
The room is the request path (`/ws`, or `/ws/r/NAME` in the many-rooms scenario).
Usage: python server.py PORT
"""

import asyncio
import resource
import signal
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

# Same cap as the Rust peers: the benchmark's messages are small.
MAX_MESSAGE_BYTES = 64 * 1024
# Frames buffered per connection before the library stops reading from its socket. The handler
# drains the queue at once (broadcast() never awaits), so the library default of 16 suffices;
# stated here so it stays bounded rather than None.
MAX_QUEUED_FRAMES = 16
# asyncio's default of 100 pending connections drops SYNs when thousands connect at once;
# 1024 matches what tokio's TcpListener::bind uses for the Rust servers.
LISTEN_BACKLOG = 1024

# Room path -> its open connections.
rooms: dict[str, set[ServerConnection]] = {}


async def relay(connection: ServerConnection) -> None:
    path = connection.request.path
    room = rooms.setdefault(path, set())
    room.add(connection)
    try:
        async for message in connection:
            if isinstance(message, str):  # the contract only fans out text
                broadcast(room, message)
    finally:
        room.discard(connection)
        if not room:
            rooms.pop(path, None)


def raise_open_file_limit() -> None:
    # Up to ~19,000 sockets are expected; the soft limit is often 1,024.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(port: int) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with serve(
        relay,
        "127.0.0.1",
        port,
        compression=None,
        max_size=MAX_MESSAGE_BYTES,
        max_queue=MAX_QUEUED_FRAMES,
        backlog=LISTEN_BACKLOG,
    ):
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python server.py PORT")
    raise_open_file_limit()
    asyncio.run(main(int(sys.argv[1])))
