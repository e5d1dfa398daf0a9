// Benchmark peer: the group-chat broadcast from the `ws` README, unchanged in spirit.
// Every text frame goes verbatim to every open client of the same room, the sender included.
// The room is the request path (`/ws`, or `/ws/r/NAME` in the many-rooms scenario).
// Usage: node server.js PORT
'use strict';

const { WebSocket, WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT');
  process.exit(2);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  // Compression off: the benchmark compares fan-out, not deflate.
  perMessageDeflate: false,
  // Node's default of 511 pending connections drops SYNs when thousands connect at once;
  // 1024 matches what tokio's TcpListener::bind uses for the Rust servers.
  backlog: 1024,
});

wss.on('listening', () => {
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});

// Room path -> its open clients.
const rooms = new Map();

wss.on('connection', (ws, request) => {
  const path = request.url;
  if (!rooms.has(path)) rooms.set(path, new Set());
  const room = rooms.get(path);
  room.add(ws);
  // A client that resets mid-run must not crash the server ('error' without a listener throws).
  ws.on('error', () => {});
  ws.on('close', () => {
    room.delete(ws);
    if (room.size === 0) rooms.delete(path);
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return; // the contract only fans out text
    room.forEach((client) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
    });
  });
});

// Without handlers Node dies by the signal; the orchestrator wants a clean exit code.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
