// WebSocket echo server with Node's `ws` package, a peer for the FasterAPI WebSocket client.
//
// Usage: NODE_PATH=/usr/share/nodejs node ws_echo_server.js [--port 0] [--no-compression]
//          [--server-no-context-takeover] [--client-no-context-takeover]
//          [--server-max-window-bits N] [--threshold BYTES] [--cert PEM --key PEM] [--lifetime 600]
//
// Listens on 127.0.0.1 (any path), prints `{"port": P}` as its first stdout line, then echoes every
// message with its type (the binary flag is kept). Selects the subprotocol `echo` when the client
// offers it (none otherwise); on a text message "close:CODE:REASON" closes with that code and
// reason instead of echoing. ws answers pings itself and closes with 1007 on invalid UTF-8.
//
// permessage-deflate is accepted by default with context takeover on both sides
// (serverNoContextTakeover false) and threshold 0, so even empty and tiny messages go out
// compressed; the flags change that. `--cert`/`--key` serve wss:// (TLS). Serves until killed, until stdin reaches end of file when it
// is a pipe or socket, or after --lifetime seconds (0 = never).
'use strict';

const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const args = {
    port: 0, compression: true, serverNoContextTakeover: false, clientNoContextTakeover: false,
    serverMaxWindowBits: undefined, threshold: 0, lifetime: 600, cert: null, key: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--port') args.port = Number(argv[++i]);
    else if (arg === '--no-compression') args.compression = false;
    else if (arg === '--compression') args.compression = true;
    else if (arg === '--server-no-context-takeover') args.serverNoContextTakeover = true;
    else if (arg === '--client-no-context-takeover') args.clientNoContextTakeover = true;
    else if (arg === '--server-max-window-bits') args.serverMaxWindowBits = Number(argv[++i]);
    else if (arg === '--threshold') args.threshold = Number(argv[++i]);
    else if (arg === '--lifetime') args.lifetime = Number(argv[++i]);
    else if (arg === '--cert') args.cert = argv[++i];
    else if (arg === '--key') args.key = argv[++i];
    else throw new Error(`unknown argument ${arg}`);
  }
  return args;
}

function stdinIsAPipe() {
  try {
    const info = fs.fstatSync(0);
    return info.isFIFO() || info.isSocket();
  } catch (error) {
    return false;
  }
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const deflate = {
    serverNoContextTakeover: args.serverNoContextTakeover,
    clientNoContextTakeover: args.clientNoContextTakeover,
    threshold: args.threshold,
  };
  if (args.serverMaxWindowBits !== undefined) deflate.serverMaxWindowBits = args.serverMaxWindowBits;

  // With TLS, ws rides on an https server of our own; otherwise it opens its own HTTP server.
  const tls = args.cert ? https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) }) : null;
  const server = new WebSocketServer({
    ...(tls ? { server: tls } : { host: '127.0.0.1', port: args.port }),
    perMessageDeflate: args.compression ? deflate : false,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('echo') ? 'echo' : false),
  });

  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        const text = data.toString('utf8');
        const match = /^close:(\d+):(.*)$/s.exec(text);
        if (match) {
          ws.close(Number(match[1]), match[2]);
          return;
        }
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('error', () => {}); // protocol errors: ws already closes with the right code
  });

  const listener = tls || server;
  listener.on('listening', () => {
    process.stdout.write(JSON.stringify({ port: listener.address().port }) + '\n');
  });
  listener.on('error', (error) => {
    process.stderr.write(`server error: ${error.message}\n`);
    process.exit(1);
  });
  if (tls) tls.listen(args.port, '127.0.0.1');

  if (stdinIsAPipe()) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
  }
  if (args.lifetime > 0) setTimeout(() => process.exit(0), args.lifetime * 1000).unref();
  process.on('SIGTERM', () => process.exit(0));
}

main();
