"""WebSocket echo server with `websockets` (asyncio), a peer for the FasterAPI WebSocket client.

Usage: ws_echo_server.py [--port 0] [--compression [--deflate-params PARAMS]]
                         [--certfile PEM --keyfile PEM] [--lifetime 600]

Listens on 127.0.0.1 (any path), prints `{"port": P}` as its first stdout line, then echoes
every message with its type (text stays text, binary stays binary). It selects the subprotocol
`echo` when the client offers it (and none otherwise), and on a text message "close:CODE:REASON"
closes the connection with that code and reason instead of echoing. Pings are answered by
websockets itself. Messages up to 64 MiB.

`--compression` accepts permessage-deflate (websockets' defaults answer
`server_max_window_bits=12; client_max_window_bits=12` when the client allows it);
`--deflate-params` replaces those with the given parameters, e.g.
`server_no_context_takeover,client_no_context_takeover,server_max_window_bits=10`.

`--certfile`/`--keyfile` serve wss:// (TLS) instead of ws://.

Serves until killed, until its standard input reaches end of file when that is a pipe or a
socket (so a test that holds a pipe to it can stop it by closing the pipe), or after
`--lifetime` seconds (0 = no limit) so a forgotten server does not outlive its test run.
"""

import argparse
import asyncio
import json
import os
import ssl
import stat
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

ALLOWED = ("server_no_context_takeover", "client_no_context_takeover",
           "server_max_window_bits", "client_max_window_bits")


def parse_deflate_params(spec):
    params = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if name not in ALLOWED:
            raise SystemExit(f"unknown permessage-deflate parameter {name!r}")
        params[name] = int(value) if sep else True
    return params


def select_subprotocol(connection, offered):
    return "echo" if "echo" in offered else None


async def echo(ws):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close:"):
                _, code, reason = message.split(":", 2)
                await ws.close(int(code), reason)
                return
            await ws.send(message)
    except ConnectionClosed:
        pass


def stdin_is_a_pipe():
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--compression", action="store_true", help="accept permessage-deflate")
    parser.add_argument("--deflate-params", help="comma-separated permessage-deflate parameters")
    parser.add_argument("--certfile", help="TLS certificate chain (PEM): serve wss://")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds (0 = never)")
    args = parser.parse_args()

    options = {"compression": None}
    if args.compression:
        params = parse_deflate_params(args.deflate_params)
        if params:
            options["extensions"] = [ServerPerMessageDeflateFactory(**params)]
        else:
            options["compression"] = "deflate"

    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
        options["ssl"] = context

    stop = asyncio.get_running_loop().create_future()
    if stdin_is_a_pipe():
        loop = asyncio.get_running_loop()

        def on_stdin():
            if not os.read(sys.stdin.fileno(), 4096) and not stop.done():
                loop.remove_reader(sys.stdin.fileno())
                stop.set_result(None)

        loop.add_reader(sys.stdin.fileno(), on_stdin)

    async with serve(echo, "127.0.0.1", args.port, select_subprotocol=select_subprotocol,
                     max_size=64 << 20, ping_interval=None, **options) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        try:
            await asyncio.wait_for(stop, args.lifetime if args.lifetime > 0 else None)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
