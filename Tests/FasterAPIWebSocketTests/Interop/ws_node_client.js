// WebSocket interop client with Node's `ws` package (Debian's node-ws), against an echo endpoint.
//
// Usage: NODE_PATH=/usr/share/nodejs node ws_node_client.js URL [--compression]
//          [--subprotocol echo] [--case echo|close-custom] [--cafile PEM | --insecure]
//          [--timeout SECONDS]
//
// echo (default): sends text and binary messages of 0, 1, 125, 126, 65535, 65536 and 1 MiB bytes
// and a multi-byte UTF-8 text, checks that every echo equals what was sent with the same type,
// pings (the pong must carry the payload), then closes with 1000 "bye" and expects close 1000.
// close-custom: sends "close:4000:done" and expects the server to close with 4000 "done".
// `--compression` offers permessage-deflate (ws' perMessageDeflate, threshold 0 so every message
// is compressed); without it nothing is offered.
//
// Prints one JSON line: {"ok", "client": "node-ws", "case", "echoed", "extensions",
// "extensions_header", "protocol", "pong", "close_code", "close_reason", "error", "elapsed_ms"};
// "extensions" is ws' `ws.extensions` (the negotiated extension names, "" when none) and
// "extensions_header" the server's Sec-WebSocket-Extensions header with its parameters (null when
// none). Exit 0 iff every check passed, else 1 with the
// reason on stderr. Every wait is bounded (--timeout, at most 20 s).
'use strict';

const WebSocket = require('ws');

const MAX_WAIT = 20;
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

function parseArgs(argv) {
  const args = { url: null, compression: false, subprotocols: [], kase: 'echo', timeout: 10, cafile: null, insecure: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--compression') args.compression = true;
    else if (arg === '--subprotocol') args.subprotocols.push(argv[++i]);
    else if (arg === '--case') args.kase = argv[++i];
    else if (arg === '--timeout') args.timeout = Number(argv[++i]);
    else if (arg === '--cafile') args.cafile = argv[++i];
    else if (arg === '--insecure') args.insecure = true;
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write('usage: ws_node_client.js URL [--compression] [--subprotocol P] [--case echo|close-custom] [--cafile PEM | --insecure] [--timeout S]\n');
      process.exit(0);
    } else if (!arg.startsWith('--') && args.url === null) args.url = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!args.url) throw new Error('missing URL');
  if (!['echo', 'close-custom'].includes(args.kase)) throw new Error(`unknown case ${args.kase}`);
  args.timeout = Math.max(1, Math.min(Number.isFinite(args.timeout) ? args.timeout : 10, MAX_WAIT));
  return args;
}

// Deterministic pseudo-random content (a small LCG), so runs are reproducible.
function generator(seed) {
  let state = (seed * 2654435761 + 1) >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state >>> 24;
  };
}

function textOf(size, seed) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-{}[]"\'\n';
  const next = generator(seed);
  let out = '';
  for (let i = 0; i < size; i++) out += alphabet[next() % alphabet.length];
  return out;
}

function bytesOf(size, seed) {
  const next = generator(seed);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = next();
  return out;
}

function messages() {
  const list = [];
  for (const size of SIZES) list.push({ binary: false, data: textOf(size, size) });
  for (const size of SIZES) list.push({ binary: true, data: bytesOf(size, size + 1) });
  list.push({ binary: false, data: 'h\u00e9llo w\u00f6rld \u2014 \u03ba\u1f79\u03c3\u03bc\u03b5 \u{1f389}\u{1f680} \u4f60\u597d' });
  return list;
}

function describe(message) {
  const size = message.binary ? message.data.length : Buffer.byteLength(message.data, 'utf8');
  return `${message.binary ? 'binary' : 'text'} message of ${size} bytes`;
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const started = Date.now();
  const result = {
    ok: false, client: 'node-ws', case: args.kase, echoed: 0, extensions: null, extensions_header: null, protocol: null,
    pong: false, close_code: null, close_reason: null, error: null, elapsed_ms: 0,
  };
  let finished = false;

  function finish(error) {
    if (finished) return;
    finished = true;
    result.elapsed_ms = Date.now() - started;
    if (error) result.error = String(error);
    else result.ok = true;
    process.stdout.write(JSON.stringify(result) + '\n', () => {
      if (error) process.stderr.write(`FAIL (node-ws, ${args.kase}): ${result.error}\n`);
      process.exit(error ? 1 : 0);
    });
  }

  const overall = setTimeout(() => finish(`timed out after ${args.timeout} s`), args.timeout * 1000);
  overall.unref();

  const options = {
    perMessageDeflate: args.compression ? { threshold: 0 } : false,
    maxPayload: 64 * 1024 * 1024,
    handshakeTimeout: args.timeout * 1000,
  };
  if (args.cafile) options.ca = require('fs').readFileSync(args.cafile);
  if (args.insecure) options.rejectUnauthorized = false;
  const ws = new WebSocket(args.url, args.subprotocols, options);
  const queue = messages();
  let current = null;
  const expectedClose = args.kase === 'echo' ? [1000, null] : [4000, 'done'];

  function sendNext() {
    current = queue.shift();
    if (current) {
      ws.send(current.data, { binary: current.binary });
      return;
    }
    const payload = Buffer.from('ping-1234');
    ws.once('pong', (data) => {
      if (!Buffer.from(data).equals(payload)) return finish(`pong payload ${data}, expected ${payload}`);
      result.pong = true;
      ws.close(1000, 'bye');
    });
    ws.ping(payload);
  }

  ws.on('upgrade', (response) => {
    result.extensions_header = response.headers['sec-websocket-extensions'] || null;
  });
  ws.on('open', () => {
    result.extensions = ws.extensions;
    result.protocol = ws.protocol;
    if (args.compression && !ws.extensions.includes('permessage-deflate')) {
      return finish('the server did not accept permessage-deflate');
    }
    if (args.kase === 'close-custom') ws.send('close:4000:done');
    else sendNext();
  });

  ws.on('message', (data, isBinary) => {
    if (args.kase !== 'echo' || !current) return finish(`unexpected message of ${data.length} bytes`);
    if (isBinary !== current.binary) {
      return finish(`${describe(current)} echoed as ${isBinary ? 'binary' : 'text'}`);
    }
    const expected = current.binary ? current.data : Buffer.from(current.data, 'utf8');
    if (!Buffer.from(data).equals(expected)) return finish(`${describe(current)} echoed with different content (${data.length})`);
    result.echoed += 1;
    sendNext();
  });

  ws.on('close', (code, reason) => {
    result.close_code = code;
    result.close_reason = reason.toString('utf8');
    if (code !== expectedClose[0]) return finish(`the server closed with ${code}, expected ${expectedClose[0]}`);
    if (expectedClose[1] !== null && result.close_reason !== expectedClose[1]) {
      return finish(`the server closed with reason ${JSON.stringify(result.close_reason)}, expected ${JSON.stringify(expectedClose[1])}`);
    }
    if (args.kase === 'echo' && (queue.length > 0 || !result.pong)) return finish('closed before all echoes arrived');
    finish(null);
  });

  ws.on('unexpected-response', (request, response) => finish(`handshake answered with status ${response.statusCode}`));
  ws.on('error', (error) => finish(`${error.code || 'error'}: ${error.message}`));
}

main();
