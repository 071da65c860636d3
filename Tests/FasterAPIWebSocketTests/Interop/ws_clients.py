"""WebSocket interop client: drives an echo server with `websockets` or `wsproto` (sans-IO).

Usage:
  ws_clients.py --url ws://127.0.0.1:PORT/ws/echo --client websockets|wsproto
                [--compression [--deflate-params PARAMS]] [--subprotocol echo]
                [--fragment] [--case echo|invalid-utf8|close-custom]
                [--cafile PEM | --insecure] [--timeout SECONDS]

Cases (all against an echo endpoint as in the issue 5 contract):
  echo (default)  text and binary messages of 0, 1, 125, 126, 65535, 65536 and 1 MiB bytes, two
                  multi-byte UTF-8 texts; every echo must equal what was sent with the same type.
                  Then a ping whose pong must carry the same payload, then close(1000, "bye"):
                  the server must answer with close 1000. `--fragment` (wsproto only) adds a text
                  and a binary message sent as 3 fragments, and (raw frames) a text whose emoji is
                  split across fragments with a ping between them.
  invalid-utf8    a masked text frame with invalid UTF-8: the server must close with 1007.
  close-custom    text "close:4000:done": the server must close with 4000 "done".

`--compression` offers permessage-deflate (websockets: compression="deflate"; wsproto: its
PerMessageDeflate extension); `--deflate-params` tunes the offer, e.g.
`client_no_context_takeover,server_no_context_takeover,server_max_window_bits=10,client_max_window_bits=12`.

Prints one JSON line: {"ok", "client", "case", "echoed", "compression", "subprotocol",
"pong", "close_code", "close_reason", "fragmented", "extensions", "tcp_closed_by_server",
"error", "elapsed_ms"}; "compression" is the Sec-WebSocket-Extensions response header (null
when none), "extensions" wsproto's view of the negotiated parameters, "tcp_closed_by_server"
(wsproto) whether the server closed TCP after the closing handshake. Exit 0 iff every check passed;
otherwise 1 with the reason on stderr. Every wait is bounded (--timeout, at most 20 s).
"""

import argparse
import asyncio
import json
import os
import random
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

MAX_WAIT = 20.0
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]
INVALID_UTF8 = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"  # "κόσμε" + a UTF-16 surrogate
PING_PAYLOAD = b"ping-1234"


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def text_of(size, seed):
    """`size` ASCII characters (so also `size` UTF-8 bytes), deterministic per seed."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-{}[]\"'\n"
    return "".join(rng.choice(alphabet) for _ in range(size))


def bytes_of(size, seed):
    return random.Random(seed).randbytes(size)


def echo_messages():
    """(kind, payload) pairs the echo case sends, in order."""
    messages = [("text", text_of(size, size)) for size in SIZES]
    messages += [("binary", bytes_of(size, size + 1)) for size in SIZES]
    messages.append(("text", "h\u00e9llo w\u00f6rld \u2014 \u03ba\u1f79\u03c3\u03bc\u03b5 \U0001f389\U0001f680 \u4f60\u597d"))
    messages.append(("text", "\U0001f389" * 20000 + "\u00e9" * 3))  # 80006 bytes, 4-byte sequences everywhere
    return messages


def parse_deflate_params(spec):
    """`a,b=1` -> {"a": True, "b": 1} (names of the RFC 7692 parameters)."""
    params = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        allowed = ("server_no_context_takeover", "client_no_context_takeover",
                   "server_max_window_bits", "client_max_window_bits")
        if name not in allowed:
            raise CheckFailed(f"unknown permessage-deflate parameter {name!r}")
        params[name] = int(value) if sep else True
    return params


def describe(kind, payload):
    size = len(payload.encode("utf-8")) if kind == "text" else len(payload)
    return f"{kind} message of {size} bytes"


def ssl_context(args):
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# ---------------------------------------------------------------------------------------------
# websockets (asyncio implementation)


async def run_websockets(args, result):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    options = {
        "open_timeout": args.timeout,
        "close_timeout": args.timeout,
        "ping_interval": None,
        "max_size": 64 << 20,
        "compression": None,
    }
    if args.compression:
        params = parse_deflate_params(args.deflate_params)
        if params:
            if params.get("client_max_window_bits") is None:
                params["client_max_window_bits"] = True  # offer it without a value, as websockets does
            options["extensions"] = [ClientPerMessageDeflateFactory(**params)]
        else:
            options["compression"] = "deflate"
    if args.subprotocol:
        options["subprotocols"] = args.subprotocol
    if args.url.startswith("wss:"):
        options["ssl"] = ssl_context(args)

    async def expect_close(ws):
        try:
            message = await asyncio.wait_for(ws.recv(), args.timeout)
            raise CheckFailed(f"expected the server to close, got a message {message!r:.80}")
        except ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), args.timeout)

    async with connect(args.url, **options) as ws:
        result["compression"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        result["subprotocol"] = ws.subprotocol
        if args.compression and not args.allow_no_compression:
            check(result["compression"] is not None, "the server did not accept permessage-deflate")
        if args.case == "echo":
            for kind, payload in echo_messages():
                await ws.send(payload)
                echo = await asyncio.wait_for(ws.recv(), args.timeout)
                check(type(echo) is type(payload), f"{describe(kind, payload)} echoed as {type(echo).__name__}")
                check(echo == payload, f"{describe(kind, payload)} echoed with different content ({len(echo)})")
                result["echoed"] += 1
            pong = await ws.ping(PING_PAYLOAD)
            await asyncio.wait_for(pong, args.timeout)
            result["pong"] = True
            await asyncio.wait_for(ws.close(1000, "bye"), args.timeout + 1)
        elif args.case == "invalid-utf8":
            await ws.send(INVALID_UTF8, text=True)
            await expect_close(ws)
        elif args.case == "close-custom":
            await ws.send("close:4000:done")
            await expect_close(ws)
        result["close_code"] = ws.close_code
        result["close_reason"] = ws.close_reason


# ---------------------------------------------------------------------------------------------
# wsproto (sans-IO over a socket of our own)


def raw_frame(opcode, payload, fin=True):
    """A client frame (masked) written by hand, for what wsproto refuses to send."""
    header = bytearray([(0x80 if fin else 0) | opcode])
    length = len(payload)
    if length < 126:
        header.append(0x80 | length)
    elif length < 65536:
        header.append(0x80 | 126)
        header += length.to_bytes(2, "big")
    else:
        header.append(0x80 | 127)
        header += length.to_bytes(8, "big")
    mask = os.urandom(4)
    header += mask
    return bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WsprotoClient:
    def __init__(self, args):
        from wsproto import ConnectionType, WSConnection

        self.args = args
        self.ws = WSConnection(ConnectionType.CLIENT)
        parts = urlsplit(args.url)
        check(parts.scheme in ("ws", "wss"), f"unsupported URL scheme {parts.scheme!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "wss" else 80)
        self.host_header = parts.netloc
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.sock = socket.create_connection((self.host, self.port), timeout=args.timeout)
        if parts.scheme == "wss":
            self.sock = ssl_context(args).wrap_socket(self.sock, server_hostname=self.host)
        self.deadline = time.monotonic() + MAX_WAIT
        self.pending = []  # events received but not consumed yet
        self.raw_head = b""  # the handshake response, to read its headers ourselves
        self.head_done = False
        self.eof = False
        self.pongs = []  # payloads of pongs seen while waiting for something else

    def send(self, event):
        self.sock.sendall(self.ws.send(event))

    def _fill(self):
        """Reads once from the socket into wsproto; False at EOF."""
        remaining = min(self.args.timeout, self.deadline - time.monotonic())
        check(remaining > 0, "overall time limit exceeded")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise CheckFailed(f"timed out after {self.args.timeout:g} s waiting for the server") from None
        except (ConnectionResetError, ssl.SSLEOFError):
            data = b""
        if not self.head_done and data:
            self.raw_head += data
            if b"\r\n\r\n" in self.raw_head:
                self.raw_head = self.raw_head.split(b"\r\n\r\n", 1)[0]
                self.head_done = True
        self.ws.receive_data(data or None)
        self.pending.extend(self.ws.events())
        if not data:
            self.eof = True
        return bool(data)

    def next_event(self):
        while not self.pending:
            check(not self.eof, "the server closed the TCP connection unexpectedly")
            self._fill()
        return self.pending.pop(0)

    def response_header(self, name):
        for line in self.raw_head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def handshake(self, result):
        from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
        from wsproto.extensions import PerMessageDeflate

        extensions = []
        if self.args.compression:
            params = parse_deflate_params(self.args.deflate_params)
            extensions.append(PerMessageDeflate(**params))
        self.send(Request(host=self.host_header, target=self.target, extensions=extensions,
                          subprotocols=self.args.subprotocol or []))
        event = self.next_event()
        if isinstance(event, RejectConnection):
            body = b""
            while event.has_body:
                event = self.next_event()
                if isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        break
            raise CheckFailed(f"handshake rejected with status {getattr(event, 'status_code', '?')}: {body[:200]!r}")
        check(isinstance(event, AcceptConnection), f"unexpected first event {event!r}")
        result["compression"] = self.response_header("Sec-WebSocket-Extensions")
        result["subprotocol"] = event.subprotocol
        result["extensions"] = [repr(extension) for extension in event.extensions]

    def receive_message(self):
        """The next whole message as (kind, payload), answering pings on the way."""
        from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

        kind, parts = None, []
        while True:
            event = self.next_event()
            if isinstance(event, Ping):
                self.send(event.response())
                continue
            if isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
                continue
            if isinstance(event, CloseConnection):
                raise CheckFailed(f"the server closed with {event.code} {event.reason!r} instead of echoing")
            if isinstance(event, TextMessage):
                kind = "text"
            elif isinstance(event, BytesMessage):
                kind = "binary"
            else:
                raise CheckFailed(f"unexpected event {event!r}")
            parts.append(event.data)
            if event.message_finished:
                return kind, ("".join(parts) if kind == "text" else b"".join(parts))

    def wait_pong(self, payload):
        from wsproto.events import Pong

        while not self.pongs:
            event = self.next_event()
            if isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
                continue
            raise CheckFailed(f"expected a pong, got {event!r}")
        got = self.pongs.pop(0)
        check(got == payload, f"pong payload {got!r}, expected {payload!r}")

    def wait_close(self, result, answer):
        """Waits for the server's close frame (answering it when `answer`) and its TCP close."""
        from wsproto.events import CloseConnection, Ping

        while True:
            event = self.next_event()
            if isinstance(event, Ping):
                continue
            check(isinstance(event, CloseConnection), f"expected a close frame, got {event!r}")
            result["close_code"] = event.code
            result["close_reason"] = event.reason
            if answer:
                self.send(event.response())
            break
        while not self.eof:  # the server closes TCP first (RFC 6455 section 7.1.1)
            self._fill()
        result["tcp_closed_by_server"] = True


def run_wsproto(args, result):
    from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

    client = WsprotoClient(args)
    try:
        client.handshake(result)
        if args.compression and not args.allow_no_compression:
            check(result["compression"] is not None, "the server did not accept permessage-deflate")

        def round_trip(kind, payload, label=None):
            got_kind, echo = client.receive_message()
            label = label or describe(kind, payload)
            check(got_kind == kind, f"{label} echoed as {got_kind}")
            check(echo == payload, f"{label} echoed with different content ({len(echo)})")
            result["echoed"] += 1

        if args.case == "echo":
            for kind, payload in echo_messages():
                client.send(TextMessage(data=payload) if kind == "text" else BytesMessage(data=payload))
                round_trip(kind, payload)
            if args.fragment:
                pieces = ["first piece, ", "second piece \u00e9\u00e8, ", "third piece \U0001f389"]
                for index, piece in enumerate(pieces):
                    client.send(TextMessage(data=piece, message_finished=index == len(pieces) - 1))
                round_trip("text", "".join(pieces), "text sent in 3 fragments")
                blobs = [bytes_of(1000, 7), bytes_of(70000, 8), bytes_of(3, 9)]
                for index, blob in enumerate(blobs):
                    client.send(BytesMessage(data=blob, message_finished=index == len(blobs) - 1))
                round_trip("binary", b"".join(blobs), "binary sent in 3 fragments")
                # An emoji split between two frames, a ping between fragments (RFC 6455 5.4):
                # written by hand, uncompressed (RSV1 clear), which permessage-deflate allows.
                encoded = "split \U0001f680 here".encode("utf-8")
                cut = encoded.index(b"\xf0") + 2
                client.sock.sendall(raw_frame(0x1, encoded[:cut], fin=False)
                                    + raw_frame(0x9, b"between")
                                    + raw_frame(0x0, encoded[cut:cut + 3], fin=False)
                                    + raw_frame(0x0, encoded[cut + 3:], fin=True))
                round_trip("text", encoded.decode("utf-8"), "text with an emoji split across fragments")
                client.wait_pong(b"between")  # answered before or after the echo
                result["fragmented"] = 3
            client.send(Ping(payload=PING_PAYLOAD))
            client.wait_pong(PING_PAYLOAD)
            result["pong"] = True
            client.send(CloseConnection(code=1000, reason="bye"))
            client.wait_close(result, answer=False)
        elif args.case == "invalid-utf8":
            client.sock.sendall(raw_frame(0x1, INVALID_UTF8))
            client.wait_close(result, answer=True)
        elif args.case == "close-custom":
            client.send(TextMessage(data="close:4000:done"))
            client.wait_close(result, answer=True)
    finally:
        client.sock.close()


EXPECTED_CLOSE = {"echo": (1000, None), "invalid-utf8": (1007, None), "close-custom": (4000, "done")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="ws:// or wss:// URL of the echo endpoint")
    parser.add_argument("--client", choices=["websockets", "wsproto"], required=True)
    parser.add_argument("--compression", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--deflate-params", help="comma-separated permessage-deflate parameters to offer")
    parser.add_argument("--allow-no-compression", action="store_true",
                        help="with --compression: do not fail when the server declines it")
    parser.add_argument("--subprotocol", action="append", help="subprotocol to offer (repeatable)")
    parser.add_argument("--fragment", action="store_true", help="wsproto: also send fragmented messages")
    parser.add_argument("--case", choices=sorted(EXPECTED_CLOSE), default="echo")
    parser.add_argument("--cafile", help="CA certificate for wss://")
    parser.add_argument("--insecure", action="store_true", help="wss:// without certificate verification")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for each wait (at most 20)")
    args = parser.parse_args()
    args.timeout = max(1.0, min(args.timeout, MAX_WAIT))
    if args.fragment and args.client != "wsproto":
        parser.error("--fragment needs --client wsproto")

    result = {"ok": False, "client": args.client, "case": args.case, "echoed": 0, "compression": None,
              "subprotocol": None, "pong": False, "close_code": None, "close_reason": None,
              "fragmented": 0, "extensions": [], "tcp_closed_by_server": None, "error": None}
    started = time.monotonic()
    try:
        if args.client == "websockets":
            asyncio.run(asyncio.wait_for(run_websockets(args, result), MAX_WAIT))
        else:
            run_wsproto(args, result)
        code, reason = EXPECTED_CLOSE[args.case]
        check(result["close_code"] == code, f"the server closed with {result['close_code']}, expected {code}")
        if reason is not None:
            check(result["close_reason"] == reason,
                  f"the server closed with reason {result['close_reason']!r}, expected {reason!r}")
        result["ok"] = True
    except (asyncio.TimeoutError, TimeoutError):
        result["error"] = f"timed out (each wait at most {args.timeout:g} s, the whole run {MAX_WAIT:g} s)"
    except CheckFailed as failure:
        result["error"] = str(failure)
    except Exception as error:  # a peer library's own exception: report it as the failure
        result["error"] = f"{type(error).__name__}: {error}"
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    print(json.dumps(result), flush=True)
    if not result["ok"]:
        print(f"FAIL ({args.client}, {args.case}): {result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
