// Benchmark peer: a WebSocket echo server on Node's `ws` package (Debian's node-ws), for
// scripts/bench.sh. Every message goes back as it came: text as text, binary as binary.
// No permessage-deflate, 127.0.0.1 only, any path.
// Usage: NODE_PATH=/usr/share/nodejs node ws_echo_node.js --port N
'use strict';

const { WebSocketServer } = require('ws');

function argument(flag, fallback) {
    const i = process.argv.indexOf(flag);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(argument('--port', '8080'));
const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
});

server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
        socket.send(data, { binary: isBinary });
    });
    socket.on('error', () => socket.terminate());
});

server.on('listening', () => {
    console.log(`ws echo listening on ws://127.0.0.1:${server.address().port}/`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => process.exit(0));
}
