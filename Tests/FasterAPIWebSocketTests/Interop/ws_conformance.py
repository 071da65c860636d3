#!/usr/bin/env python3
"""WebSocket conformance suite (RFC 6455 + permessage-deflate, RFC 7692) for FasterAPI.

Modelled on the case groups of the Autobahn testsuite, but driven from a raw socket so that every
byte on the wire is under the suite's control. Python 3 standard library only.

Usage:
  ws_conformance.py --target server --url ws://127.0.0.1:PORT/ws/echo [--case PATTERN] [--list]
                    [--timeout 2] [--verbose]
      The suite is a raw *client* of an echo endpoint (issue 5 contract): every message is echoed
      with its type; a text message "close:CODE:REASON" makes the server close with that code and
      reason; pings are answered with pongs; permessage-deflate is accepted when offered; messages
      up to 16 MiB (bigger -> close 1009). Each case opens a fresh TCP connection, performs the
      HTTP/1.1 upgrade itself, sends exact bytes and judges what comes back.

  ws_conformance.py --target client --port 0 [--case PATTERN] [--list] [--timeout 3]
                    [--client-limit BYTES] [--max-time 90] [--verbose]
      The suite is a raw *server* for the WebSocket client under test. Its first stdout line is
      {"port": P, "cases": [case ids]} (flushed). For each case id in that order, the client must
      connect to ws://127.0.0.1:P/<case id> (offering "permessage-deflate; client_max_window_bits"),
      echo every message with its type until the connection ends, answer pings with pongs, answer
      a close frame with a close frame (echoing the status code), fail the connection with the
      proper close code on protocol errors, and close TCP without sending anything when the
      handshake response is invalid. Each case has a 3 s timeout; the run ends after --max-time
      seconds (default 90) no matter what.

Both modes end with one JSON line on stdout:
  {"passed": n, "failed": [{"case": id, "expected": ..., "got": ...}], "total": n, "info": {...}}
and exit 0 only if nothing failed (1 otherwise, 2 on usage errors).

--case takes comma-separated glob patterns; a pattern without * ? [ is a prefix ("6." = group 6,
"9.msg" = every 9.msg* case, "*utf8*" = anything containing utf8). --list prints the selected
case ids, one per line, and exits.

Case groups: 0 handshake, 1 framing, 2 pings/pongs, 3 reserved bits, 4 opcodes,
5 fragmentation, 6 UTF-8, 7 close handling, 8 masking and limits, 9 permessage-deflate.
Expectations follow RFC 6455 / RFC 7692; where the RFCs allow more than one behaviour the case
accepts each of them and records which one it saw under "info".
"""

import argparse
import base64
import fnmatch
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
KIND = {TEXT: "text", BINARY: "binary"}
OPNAMES = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping",
           PONG: "pong"}
RSV1, RSV2, RSV3 = 4, 2, 1          # values of the 3-bit RSV field
MiB = 1024 * 1024
LIMIT = 16 * MiB                    # the server's message limit (contract)
MAX_FRAME = 64 * MiB                # the suite refuses to buffer a bigger frame from the peer
TAIL = b"\x00\x00\xff\xff"          # RFC 7692 7.2.1: stripped from every compressed message
DEFAULT_OFFER = "permessage-deflate; client_max_window_bits"
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"            # "κόσμε"
KOSME_SURROGATE = KOSME + b"\xed\xa0\x80" + b"edited"                # invalid at byte 12


# --------------------------------------------------------------------------------------------
# wire helpers


class CaseFailure(Exception):
    def __init__(self, expected, got):
        super().__init__(f"expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class PeerViolation(Exception):
    pass


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("latin-1") + GUID).digest()).decode("ascii")


def mask_payload(data, key):
    """XORs data with the 4-byte key (RFC 6455 5.3); big-integer arithmetic keeps 16 MiB fast."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def build_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, key=None, length_form=None,
                claimed_length=None):
    """One frame. length_form 7/16/64 forces a length encoding; claimed_length lies about it."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload) if claimed_length is None else claimed_length
    if length_form is None:
        length_form = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
    m = 0x80 if masked else 0
    if length_form == 7:
        head = struct.pack("!BB", b0, m | n)
    elif length_form == 16:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if masked:
        key = os.urandom(4) if key is None else key
        return head + key + mask_payload(payload, key)
    return head + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


def sendable_close_code(code):
    """Whether code may appear in a close frame on the wire (RFC 6455 7.4)."""
    if code is None:
        return True
    if code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014):
        return True
    return 3000 <= code <= 4999


def text_bytes(n):
    unit = b"The quick brown fox jumps over the lazy dog. "
    return (unit * (n // len(unit) + 1))[:n]


def preview(data, limit=24):
    if len(data) <= limit:
        return repr(bytes(data))
    return repr(bytes(data[:limit])) + "..."


def split_sizes(total, parts):
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "key", "payload", "length_form")

    def __init__(self, fin, rsv, opcode, masked, key, payload, length_form):
        self.fin, self.rsv, self.opcode, self.masked = fin, rsv, opcode, masked
        self.key, self.payload, self.length_form = key, payload, length_form


# --------------------------------------------------------------------------------------------
# permessage-deflate codecs


class TooBig(Exception):
    pass


class Deflater:
    """Our outgoing compressor. Window 8 cannot be produced by zlib's raw deflate, so it falls back
    to stored blocks (level 0), which contain no back-references and so fit any window."""

    def __init__(self, bits, no_context):
        self.bits = max(bits, 9)
        self.level = 0 if bits == 8 else 6
        self.no_context = no_context
        self.obj = None

    def compress(self, data):
        if self.obj is None or self.no_context:
            self.obj = zlib.compressobj(self.level, zlib.DEFLATED, -self.bits)
        out = self.obj.compress(data) + self.obj.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(TAIL) else out


class Inflater:
    """Inflates the peer's messages with exactly the agreed window and context rules.

    With a window below 15 bits the output of each inflate() call is capped at 256 bytes: zlib
    only checks a back-reference against the window when it points before the current call's
    output, so this makes any distance beyond the agreed window fail ("invalid distance too far
    back") instead of passing silently. Without context takeover every message gets a fresh
    decompressor, so a reference into an earlier message fails too."""

    def __init__(self, bits, no_context, limit):
        self.bits, self.no_context, self.limit = bits, no_context, limit
        self.obj = None

    def inflate(self, data):
        if self.obj is None or self.no_context or self.obj.eof:
            self.obj = zlib.decompressobj(-self.bits)
        data = bytes(data) + TAIL
        if self.bits >= 15:
            out = self.obj.decompress(data, self.limit + 1)
            if len(out) > self.limit:
                raise TooBig(f"inflates beyond {self.limit} bytes")
            return out
        parts, total, pending = [], 0, data
        while True:
            chunk = self.obj.decompress(pending, 256)
            parts.append(chunk)
            total += len(chunk)
            if total > self.limit:
                raise TooBig(f"inflates beyond {self.limit} bytes")
            pending = self.obj.unconsumed_tail
            if not pending and len(chunk) < 256:
                return b"".join(parts)


def split_outside_quotes(text, sep):
    parts, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_extensions(header):
    """'a; x=1, b' -> [("a", [("x", "1")]), ("b", [])]; names lowercased, quotes stripped."""
    result = []
    for item in split_outside_quotes(header or "", ","):
        if not item.strip():
            continue
        pieces = split_outside_quotes(item, ";")
        params = []
        for piece in pieces[1:]:
            piece = piece.strip()
            if not piece:
                continue
            if "=" in piece:
                k, v = piece.split("=", 1)
                v = v.strip()
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                params.append((k.strip().lower(), v))
            else:
                params.append((piece.lower(), None))
        result.append((pieces[0].strip().lower(), params))
    return result


def window_bits(value):
    if value is None or not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def default_agreed():
    return {"server_no_context_takeover": False, "client_no_context_takeover": False,
            "server_max_window_bits": 15, "client_max_window_bits": 15}


def validate_pmd_response(offer, response):
    """Checks a server's permessage-deflate parameters against one offer (RFC 7692 7.1).
    Returns (agreed, None) or (None, error)."""
    offered = {}
    for name, value in offer:
        offered.setdefault(name, value)
    seen = {}
    agreed = default_agreed()
    for name, value in response:
        if name in seen:
            return None, f"duplicate parameter {name}"
        seen[name] = value
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None, f"{name} must not have a value"
            agreed[name] = True
        elif name == "server_max_window_bits":
            bits = window_bits(value)
            if bits is None:
                return None, f"server_max_window_bits={value!r} is not 8..15"
            limit = window_bits(offered.get("server_max_window_bits"))
            if limit is not None and bits > limit:
                return None, f"server_max_window_bits={bits} above the offered {limit}"
            agreed[name] = bits
        elif name == "client_max_window_bits":
            if "client_max_window_bits" not in offered:
                return None, "client_max_window_bits in the response but not in the offer"
            bits = window_bits(value)
            if bits is None:
                return None, f"client_max_window_bits={value!r} in a response must be 8..15"
            limit = window_bits(offered.get("client_max_window_bits"))
            if limit is not None and bits > limit:
                return None, f"client_max_window_bits={bits} above the offered {limit}"
            agreed[name] = bits
        else:
            return None, f"unknown parameter {name}"
    if "server_no_context_takeover" in offered and not agreed["server_no_context_takeover"]:
        return None, "offered server_no_context_takeover missing from the response"
    if "server_max_window_bits" in offered and "server_max_window_bits" not in seen:
        return None, "offered server_max_window_bits missing from the response"
    return agreed, None


def agreed_from_response(params):
    """The parameters of a response we build ourselves (mode B), known to be valid."""
    agreed = default_agreed()
    for name, value in params:
        if name.endswith("_no_context_takeover"):
            agreed[name] = True
        elif value is not None:
            agreed[name] = int(value)
    return agreed


# --------------------------------------------------------------------------------------------
# connection: raw bytes in and out, frames and events


class Conn:
    """One TCP connection. we_are_client decides the masking rule both ways."""

    def __init__(self, sock, we_are_client):
        self.sock = sock
        sock.setblocking(False)
        self.client = we_are_client
        self.buf = bytearray()
        self.eof = False
        self.reset = False
        self.broken = False
        self.pmd = None
        self.deflater = None
        self.inflater = None
        self.frag = None
        self.close_seen = None
        self.masks = []

    def set_pmd(self, agreed):
        self.pmd = agreed
        mine, theirs = ("client", "server") if self.client else ("server", "client")
        self.deflater = Deflater(agreed[f"{mine}_max_window_bits"],
                                 agreed[f"{mine}_no_context_takeover"])
        self.inflater = Inflater(agreed[f"{theirs}_max_window_bits"],
                                 agreed[f"{theirs}_no_context_takeover"], 2 * LIMIT + 8 * MiB)

    # raw I/O -----------------------------------------------------------------------------

    def _recv_some(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.eof = self.reset = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def fill(self, deadline):
        """Waits for more bytes; False on end of stream or at the deadline."""
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if readable and self._recv_some():
                return True
        return False

    def pause(self, seconds):
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if self.eof:
                time.sleep(remaining)
                return
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if readable:
                self._recv_some()

    def send(self, data, deadline, chunk=None, delay=0.0):
        """Writes data, in pieces of `chunk` bytes with `delay` s between them if asked, reading
        whatever the peer sends meanwhile (no deadlock on big echoes). True if all was written."""
        view = memoryview(bytes(data))
        total, off, step = len(view), 0, chunk or (1 << 18)
        while off < total:
            if off and delay:
                self.pause(delay)
            end = min(off + step, total)
            while off < end:
                if self.broken:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                readable, writable, _ = select.select([] if self.eof else [self.sock],
                                                      [self.sock], [], remaining)
                if readable:
                    self._recv_some()
                if writable:
                    try:
                        off += self.sock.send(view[off:end])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self.broken = True
                        return False
        return True

    def shutdown(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # frames ------------------------------------------------------------------------------

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        n, pos, form = b1 & 0x7F, 2, 7
        if n == 126:
            if len(b) < 4:
                return None
            n, pos, form = struct.unpack_from("!H", b, 2)[0], 4, 16
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos, form = struct.unpack_from("!Q", b, 2)[0], 10, 64
        if n > MAX_FRAME:
            raise PeerViolation(f"frame header announces {n} bytes")
        masked = bool(b1 & 0x80)
        start = pos + (4 if masked else 0)
        if len(b) < start + n:
            return None
        key = bytes(b[pos:pos + 4]) if masked else None
        payload = bytes(b[start:start + n])
        del b[:start + n]
        if masked:
            payload = mask_payload(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, key, payload, form)

    def read_frame(self, deadline):
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            if not self.fill(deadline):
                return None

    def next_event(self, deadline):
        """Next thing the peer did: ("text"|"binary", data, meta), ("ping"|"pong", data),
        ("close", code|None, reason), ("eof", reset), ("timeout",) or ("violation", what)."""
        while True:
            try:
                frame = self.read_frame(deadline)
            except PeerViolation as exc:
                return ("violation", str(exc))
            if frame is None:
                return ("eof", self.reset) if self.eof else ("timeout",)
            event = self._on_frame(frame)
            if event is not None:
                return event

    def _on_frame(self, f):
        if self.client and f.masked:
            return ("violation", f"server sent a masked {OPNAMES.get(f.opcode, f.opcode)} frame")
        if not self.client and not f.masked:
            return ("violation", f"client sent an unmasked {OPNAMES.get(f.opcode, f.opcode)} frame")
        if f.masked:
            self.masks.append(f.key)
        op = f.opcode
        if op not in OPNAMES:
            return ("violation", f"reserved opcode {op:#x}")
        if f.rsv & (RSV2 | RSV3):
            return ("violation", f"RSV bits {f.rsv:03b} on a {OPNAMES[op]} frame")
        compressed = bool(f.rsv & RSV1)
        if compressed and not (self.pmd and op in (TEXT, BINARY)):
            return ("violation", f"RSV1 on a {OPNAMES[op]} frame" +
                    ("" if self.pmd else " without negotiated compression"))
        if op >= CLOSE:
            if not f.fin:
                return ("violation", f"fragmented {OPNAMES[op]} frame")
            if len(f.payload) > 125:
                return ("violation", f"{OPNAMES[op]} frame with {len(f.payload)} bytes")
            if op == CLOSE:
                if len(f.payload) == 1:
                    return ("violation", "close frame with a 1-byte payload")
                code = struct.unpack("!H", f.payload[:2])[0] if f.payload else None
                event = ("close", code, f.payload[2:])
                if self.close_seen is None:
                    self.close_seen = event
                return event
            return ("ping" if op == PING else "pong", f.payload)
        if op == CONT:
            if self.frag is None:
                return ("violation", "continuation frame without a message in progress")
            self.frag[2].append(f.payload)
            self.frag[3] += 1
        else:
            if self.frag is not None:
                return ("violation", f"new {OPNAMES[op]} frame inside a fragmented message")
            self.frag = [op, compressed, [f.payload], 1]
        if not f.fin:
            return None
        op0, comp, parts, nframes = self.frag
        self.frag = None
        data = b"".join(parts)
        if comp:
            try:
                data = self.inflater.inflate(data)
            except (zlib.error, TooBig) as exc:
                return ("violation", f"compressed {KIND[op0]} message does not inflate with the "
                                     f"agreed parameters ({exc})")
        return (KIND[op0], data, {"compressed": comp, "frames": nframes})

    def drain_until_eof(self, deadline):
        """After the closing handshake: waits for the end of the stream, counting stray frames."""
        extra = 0
        while True:
            try:
                frame = self.read_frame(deadline)
            except PeerViolation:
                extra += 1
                self.buf.clear()
                continue
            if frame is None:
                return self.eof, extra
            extra += 1


def describe(event, want=None):
    kind = event[0]
    if kind in ("text", "binary"):
        data, meta = event[1], event[2]
        text = f"{kind} message of {len(data)} bytes"
        if want is not None and len(want) == len(data) and want != data:
            first = next(i for i in range(len(data)) if data[i] != want[i])
            text += f" differing from the expected one at byte {first}"
        elif len(data) <= 64:
            text += f" {preview(data)}"
        if meta["compressed"]:
            text += " (compressed)"
        if meta["frames"] > 1:
            text += f" in {meta['frames']} frames"
        return text
    if kind in ("ping", "pong"):
        return f"{kind} with {len(event[1])}-byte payload {preview(event[1])}"
    if kind == "close":
        if event[1] is None:
            return "close frame with empty payload"
        return f"close {event[1]} reason {preview(event[2])}"
    if kind == "eof":
        return "TCP connection closed without a close frame" + (" (reset)" if event[1] else "")
    if kind == "timeout":
        return "nothing before the timeout"
    return f"protocol violation by the peer: {event[1]}"


def describe_expected(kind, payload):
    if kind in ("text", "binary"):
        return f"{kind} echo of {len(payload)} bytes" + (
            f" {preview(payload)}" if len(payload) <= 64 else "")
    return f"{kind} with {len(payload)}-byte payload {preview(payload)}"


def codes_text(codes):
    return " or ".join("empty close" if c is None else str(c) for c in codes)


# --------------------------------------------------------------------------------------------
# HTTP heads


class Head:
    def __init__(self, start, fields):
        self.start = start
        self.fields = fields
        self.key = None
        parts = start.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def get(self, name):
        values = [v for n, v in self.fields if n == name]
        return ", ".join(values) if values else None

    def tokens(self, name):
        return [t.strip().lower() for t in (self.get(name) or "").split(",") if t.strip()]


def read_head(conn, deadline, what):
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(conn.buf) > 65536:
            raise CaseFailure(what, "more than 64 KiB without the end of the HTTP head")
        if not conn.fill(deadline):
            raise CaseFailure(what, ("connection closed" if conn.eof else "timeout")
                              + f" after {len(conn.buf)} bytes of the HTTP head")
    text = bytes(conn.buf[:end]).decode("latin-1")
    del conn.buf[:end + 4]
    lines = text.split("\r\n")
    fields = []
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields.append((name.strip().lower(), value.strip()))
    return Head(lines[0], fields)


def response_problems(head, protocols=None):
    if head.status != 101 or not head.start.startswith("HTTP/1.1 "):
        return [f"status line {head.start!r}"]
    problems = []
    if (head.get("upgrade") or "").lower() != "websocket":
        problems.append(f"Upgrade: {head.get('upgrade')!r}")
    if "upgrade" not in head.tokens("connection"):
        problems.append(f"Connection: {head.get('connection')!r}")
    if head.get("sec-websocket-accept") != accept_key(head.key):
        problems.append(f"Sec-WebSocket-Accept {head.get('sec-websocket-accept')!r}, "
                        f"expected {accept_key(head.key)!r}")
    proto = head.get("sec-websocket-protocol")
    if proto is not None and proto not in (protocols or []):
        problems.append(f"unoffered Sec-WebSocket-Protocol {proto!r}")
    return problems


def request_problems(head):
    parts = head.start.split(" ")
    problems = []
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        problems.append(f"request line {head.start!r}")
    if not head.get("host"):
        problems.append("no Host")
    if "websocket" not in head.tokens("upgrade"):
        problems.append(f"Upgrade: {head.get('upgrade')!r}")
    if "upgrade" not in head.tokens("connection"):
        problems.append(f"Connection: {head.get('connection')!r}")
    if head.get("sec-websocket-version") != "13":
        problems.append(f"Sec-WebSocket-Version: {head.get('sec-websocket-version')!r}")
    key = head.get("sec-websocket-key") or ""
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            problems.append(f"Sec-WebSocket-Key {key!r} is not 16 bytes")
    except ValueError:
        problems.append(f"Sec-WebSocket-Key {key!r} is not base64")
    return problems


# --------------------------------------------------------------------------------------------
# case context: the part of a case that is the same in both modes


class Ctx:
    we_are_client = True

    def __init__(self, timeout):
        self.timeout = timeout
        self.conn = None
        self.info = {}
        self.deadline = 0.0

    def f(self, opcode, payload=b"", **kw):
        kw.setdefault("masked", self.we_are_client)
        return build_frame(opcode, payload, **kw)

    def send(self, data, chunk=None, delay=0.0):
        return self.conn.send(data, self.deadline, chunk=chunk, delay=delay)

    def msg(self, opcode, data, compress=False, split=None):
        """Frames of one message; split = number of fragments or a list of fragment sizes."""
        payload = self.conn.deflater.compress(data) if compress else data
        if split is None:
            sizes = [len(payload)]
        elif isinstance(split, int):
            sizes = split_sizes(len(payload), split)
        else:
            sizes = list(split)
            sizes[-1] += len(payload) - sum(sizes)
        frames, pos = [], 0
        for i, size in enumerate(sizes):
            frames.append(self.f(opcode if i == 0 else CONT, payload[pos:pos + size],
                                 fin=i == len(sizes) - 1, rsv=RSV1 if compress and i == 0 else 0))
            pos += size
        return b"".join(frames)

    def compressed_fragments(self, opcode, compressed, sizes):
        """An already-compressed payload as fragments of the given sizes (RSV1 on the first)."""
        frames, pos = [], 0
        for i, n in enumerate(sizes):
            frames.append(self.f(opcode if i == 0 else CONT, compressed[pos:pos + n],
                                 fin=i == len(sizes) - 1, rsv=RSV1 if i == 0 else 0))
            pos += n
        return b"".join(frames)

    def expect(self, items):
        """The peer's next events must be items [(kind, payload)], in order."""
        metas = []
        for kind, payload in items:
            event = self.conn.next_event(self.deadline)
            if event[0] != kind or event[1] != payload:
                raise CaseFailure(describe_expected(kind, payload),
                                  describe(event, payload if event[0] == kind else None))
            if len(event) > 2:
                metas.append(event[2])
        if metas and self.conn.pmd:
            self.info["peer_compressed"] = self.info.get("peer_compressed", 0) + sum(
                1 for m in metas if m["compressed"])
        return metas

    def expect_close(self, codes, before=(), first=None, reason=None, reply=True):
        """The peer must close with a code in codes (None = empty close frame). The events in
        before (echoes of valid messages sent ahead of the offending frame) may come first, in
        order, or not at all: an endpoint may fail the connection as soon as it parses the bad
        frame, before its application echoed the earlier message (Autobahn's "non-strict").
        We answer the close when reply is set (the peer started the closing)."""
        pending = list(before)
        event = first
        while True:
            if event is None:
                event = self.conn.next_event(self.deadline)
            if event[0] == "close":
                break
            if pending and event[0] == pending[0][0] and event[1] == pending[0][1]:
                pending.pop(0)
                event = None
                continue
            wanted = (describe_expected(*pending[0]) + " or " if pending else "") + \
                f"close {codes_text(codes)}"
            raise CaseFailure(wanted, describe(event))
        if before:
            self.info["echoes_before_close"] = len(before) - len(pending)
        code, why = event[1], event[2]
        self.info["close"] = "empty" if code is None else code
        if reply:
            answer = code if sendable_close_code(code) else 1002
            self.conn.send(self.f(CLOSE, close_payload(answer)), self.deadline)
        closed, extra = self.after_close()
        if code not in codes:
            raise CaseFailure(f"close {codes_text(codes)}", describe(event))
        if reason is not None and why != reason:
            raise CaseFailure(f"close reason {reason!r}", f"reason {bytes(why)!r}")
        if extra:
            raise CaseFailure("nothing after the close frame", f"{extra} more frame(s)")
        if not closed:
            raise CaseFailure("the server closes TCP after the closing handshake",
                              "TCP connection still open")
        return event

    def close_handshake(self, payload, codes, extra=b"", chunk=None, delay=0.0, reason=None):
        """We start the closing handshake (payload = our close frame's payload)."""
        self.send(self.f(CLOSE, payload) + extra, chunk=chunk, delay=delay)
        return self.expect_close(codes, reason=reason, reply=False)

    def finish(self):
        self.close_handshake(close_payload(1000), [1000])

    def peer_window(self):
        return self.conn.pmd["server_max_window_bits" if self.we_are_client
                             else "client_max_window_bits"]


class ServerTargetCtx(Ctx):
    """Mode A: we are the client of the server under test."""
    we_are_client = True

    def __init__(self, host, port, path, timeout):
        super().__init__(timeout)
        self.host, self.port, self.path = host, port, path
        self.conns = []

    def after_close(self):
        return self.conn.drain_until_eof(max(self.deadline, time.monotonic() + 0.5))

    def cleanup(self):
        for conn in self.conns:
            conn.close()
        self.conns = []
        self.conn = None

    def open(self, extensions=None, protocols=None, version="13", key=None, drop=(),
             method="GET"):
        try:
            sock = socket.create_connection(
                (self.host, self.port), timeout=max(0.2, self.deadline - time.monotonic()))
        except OSError as exc:
            raise CaseFailure("a TCP connection to the server", f"connect failed: {exc}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = Conn(sock, we_are_client=True)
        self.conns.append(self.conn)
        key = base64.b64encode(os.urandom(16)).decode() if key is None else key
        fields = [("Host", f"{self.host}:{self.port}"), ("Upgrade", "websocket"),
                  ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                  ("Sec-WebSocket-Version", version)]
        if extensions:
            fields.append(("Sec-WebSocket-Extensions", extensions))
        if protocols:
            fields.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
        if method != "GET":
            fields.append(("Content-Length", "0"))
        fields = [(n, v) for n, v in fields if n not in drop]
        request = f"{method} {self.path} HTTP/1.1\r\n" + "".join(
            f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        self.conn.send(request.encode("latin-1"), self.deadline)
        head = read_head(self.conn, self.deadline, "an HTTP response to the upgrade request")
        head.key = key
        return head

    def setup(self, pmd=None, protocols=None):
        offer = DEFAULT_OFFER if pmd == "default" else pmd
        head = self.open(extensions=offer, protocols=protocols)
        problems = response_problems(head, protocols)
        if problems:
            raise CaseFailure("101 Switching Protocols with a valid handshake",
                              "; ".join(problems))
        ext = head.get("sec-websocket-extensions")
        if offer is None:
            if ext is not None:
                raise CaseFailure("no Sec-WebSocket-Extensions (nothing offered)", repr(ext))
            return head
        if ext is None:
            raise CaseFailure("permessage-deflate accepted (the contract accepts every offer)",
                              "declined: no Sec-WebSocket-Extensions header")
        agreed, error = check_pmd_response(offer, ext)
        if error:
            raise CaseFailure("a valid permessage-deflate response to the offer",
                              f"{ext!r}: {error}")
        self.conn.set_pmd(agreed)
        self.info["negotiated"] = ext
        return head


def check_pmd_response(offer_header, response_header):
    extensions = parse_extensions(response_header)
    if len(extensions) != 1 or extensions[0][0] != "permessage-deflate":
        return None, "expected exactly one permessage-deflate extension"
    errors = []
    for name, params in parse_extensions(offer_header):
        if name == "permessage-deflate":
            agreed, error = validate_pmd_response(params, extensions[0][1])
            if error is None:
                return agreed, None
            errors.append(error)
    return None, " / ".join(errors) or "nothing offered"


class ClientTargetCtx(Ctx):
    """Mode B: we are the server the client under test connected to."""
    we_are_client = False

    def __init__(self, conn, request, timeout):
        super().__init__(timeout)
        self.conn = conn
        self.request = request

    def after_close(self):
        self.conn.shutdown()
        closed, extra = self.conn.drain_until_eof(time.monotonic() + 0.5)
        self.info["client_closed_tcp"] = closed
        self.conn.close()
        return True, extra

    def respond(self, ext=None, protocol=None, status=101, accept=None, upgrade="websocket",
                connection="Upgrade", omit=(), raw=None):
        if raw is None:
            key = self.request.get("sec-websocket-key") or ""
            reason = {101: "Switching Protocols", 200: "OK", 403: "Forbidden"}.get(status, "X")
            fields = []
            if status == 101:
                fields += [("Upgrade", upgrade), ("Connection", connection),
                           ("Sec-WebSocket-Accept", accept or accept_key(key))]
                if ext:
                    fields.append(("Sec-WebSocket-Extensions", ext))
                if protocol:
                    fields.append(("Sec-WebSocket-Protocol", protocol))
            else:
                fields.append(("Content-Length", "0"))
            fields = [(n, v) for n, v in fields if n not in omit]
            raw = f"HTTP/1.1 {status} {reason}\r\n" + "".join(
                f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        self.conn.send(raw.encode("latin-1"), self.deadline)

    def check_request(self):
        problems = request_problems(self.request)
        if problems:
            raise CaseFailure("a valid opening handshake request", "; ".join(problems))

    def setup(self, pmd=None, protocols=None):
        self.check_request()
        response = "permessage-deflate" if pmd == "default" else pmd
        if response is not None:
            offers = [p for n, p in parse_extensions(self.request.get("sec-websocket-extensions"))
                      if n == "permessage-deflate"]
            if not offers:
                raise CaseFailure("the client offers permessage-deflate",
                                  repr(self.request.get("sec-websocket-extensions")))
            params = parse_extensions(response)[0][1]
            if any(n == "client_max_window_bits" for n, _ in params) and not any(
                    n == "client_max_window_bits" for offer in offers for n, _ in offer):
                raise CaseFailure("an offer with client_max_window_bits",
                                  repr(self.request.get("sec-websocket-extensions")))
            self.conn.set_pmd(agreed_from_response(params))
            self.info["negotiated"] = response
        self.respond(ext=response)

    def expect_refusal(self):
        """After an invalid handshake response the client must close TCP without sending."""
        while not self.conn.eof:
            if not self.conn.fill(self.deadline):
                break
        got = bytes(self.conn.buf)
        if got:
            self.conn.buf.clear()
            try:
                self.conn.buf += got
                frame = self.conn._parse()
                what = f"a {OPNAMES.get(frame.opcode, frame.opcode)} frame" if frame else "bytes"
            except PeerViolation:
                what = "bytes"
            raise CaseFailure("TCP closed by the client without any frame",
                              f"{len(got)} bytes ({what}) {preview(got)}")
        if not self.conn.eof:
            raise CaseFailure("TCP closed by the client without any frame",
                              "connection still open at the timeout")
        self.info["refused"] = "reset" if self.conn.reset else "closed"


# --------------------------------------------------------------------------------------------
# shared case bodies


def run_echo(ctx, messages, chunk=None, delay=0.0, pmd=None, setup=True):
    """messages: (opcode, data[, compress[, split]]) each echoed in order."""
    if setup:
        ctx.setup(pmd)
    wire = b"".join(ctx.msg(*m) for m in messages)
    ctx.send(wire, chunk=chunk, delay=delay)
    ctx.expect([(KIND[m[0]], m[1]) for m in messages])
    ctx.finish()


def run_fail(ctx, build, codes=(1002,), before=(), pmd=None, chunk=None, delay=0.0):
    """build(ctx) -> bytes to send; the peer must then fail the connection with codes."""
    ctx.setup(pmd)
    ctx.send(build(ctx), chunk=chunk, delay=delay)
    ctx.expect_close(list(codes), before=before)


def run_either(ctx, build, echo, codes=(1002,)):
    """Where the RFC leaves a choice: the echo or a failure with codes is fine; records which."""
    ctx.setup()
    ctx.send(build(ctx))
    event = ctx.conn.next_event(ctx.deadline)
    if event[0] == echo[0] and event[1] == echo[1]:
        ctx.info["outcome"] = "accepted"
        ctx.finish()
        return
    ctx.info["outcome"] = "rejected"
    ctx.expect_close(list(codes), first=event)


def run_prompt_fail(ctx, claimed, codes):
    """A frame header announcing `claimed` bytes followed by only a little payload: the peer must
    fail at once from the header, without waiting for the payload; records how long it took."""
    ctx.setup()
    start = time.monotonic()
    ctx.send(ctx.f(BINARY, os.urandom(1000), claimed_length=claimed))
    event = ctx.conn.next_event(ctx.deadline)
    ctx.info["close_after_ms"] = int((time.monotonic() - start) * 1000)
    ctx.expect_close(list(codes), first=event)


def run_ping_ten(ctx):
    ctx.setup()
    payloads = [b"ping-%d" % i for i in range(10)]
    ctx.send(b"".join(ctx.f(PING, p) for p in payloads))
    nxt, count = 0, 0
    while True:
        event = ctx.conn.next_event(ctx.deadline)
        if event[0] != "pong" or event[1] not in payloads[nxt:]:
            raise CaseFailure("pongs for the pings in order, ending with b'ping-9'",
                              f"{describe(event)} after {count} pong(s)")
        nxt = payloads.index(event[1], nxt) + 1
        count += 1
        if nxt == 10:
            break
    ctx.info["pongs"] = count
    if count != 10:
        # RFC 6455 5.5.3 lets an endpoint answer only the most recent of several pings.
        ctx.info["note"] = "pongs coalesced (allowed by RFC 6455 5.5.3)"
    ctx.finish()


def run_utf8_bytewise(ctx, data, valid, pause=0.03):
    """data as a text message in 1-byte fragments, each in its own write. For invalid data records
    after which fragment the close arrived (fail-fast: before the final fragment was sent)."""
    ctx.setup()
    n = len(data)
    frames = [ctx.f(TEXT if i == 0 else CONT, data[i:i + 1], fin=i == n - 1) for i in range(n)]
    if valid:
        ctx.send(b"".join(frames), chunk=None)
        ctx.expect([("text", data)])
        ctx.finish()
        return
    first = None
    for i, frame in enumerate(frames):
        if not ctx.send(frame):
            ctx.info["send_stopped_after_fragment"] = i - 1
            break
        event = ctx.conn.next_event(min(ctx.deadline, time.monotonic() + pause))
        if event[0] != "timeout":
            first = event
            ctx.info["answer_after_fragment"] = i
            break
    ctx.info["fragments"] = n
    ctx.info["fail_fast"] = first is not None and ctx.info["answer_after_fragment"] < n - 1
    ctx.expect_close([1007], first=first)


def run_pmd_exchange(ctx):
    """Compressed traffic under the negotiated parameters. Messages that catch a peer ignoring
    them: a repeat of an earlier message (a reference into it breaks no_context_takeover) and
    R+R with |R| = 2^window + 100 (a reference that far breaks the agreed window)."""
    bits = ctx.peer_window()
    span = (1 << bits) + 100 if bits < 15 else 1000
    r = os.urandom(span)
    hello = b"Hello, permessage-deflate! " * 4
    messages = [(TEXT, hello, True), (TEXT, hello, True), (BINARY, r + r, True),
                (BINARY, r + r, True), (TEXT, b"plain, not compressed", False),
                (BINARY, b"", True), (TEXT, "κόσμε ".encode() * 50, True),
                (BINARY, text_bytes(5000), True, 3), (TEXT, hello, True)]
    run_echo(ctx, messages, setup=False)


def add_shared_cases(add):
    """Cases that make sense from both sides (ctx hides which side we are)."""
    sizes = [0, 1, 125, 126, 127, 65535, 65536, MiB]
    for n in sizes:
        scale = 2 if n >= MiB else 1
        add(f"1.text.{n}", lambda c, n=n: run_echo(c, [(TEXT, text_bytes(n))]), scale=scale)
        add(f"1.binary.{n}", lambda c, n=n: run_echo(c, [(BINARY, os.urandom(n))]), scale=scale)
    for n in sizes[:-1]:
        add(f"1.chopped.binary.{n}",
            lambda c, n=n: run_echo(c, [(BINARY, os.urandom(n))],
                                    chunk=1 if n <= 127 else 4093, delay=0.002), scale=2)
    add("1.chopped.text.1048576",
        lambda c: run_echo(c, [(TEXT, text_bytes(MiB))], chunk=65536, delay=0.001), scale=2)
    add("1.pipelined", lambda c: run_echo(
        c, [(TEXT, b"first"), (BINARY, os.urandom(300)), (TEXT, text_bytes(70000)),
            (BINARY, b"")]))
    add("1.nonminimal-16bit-length", lambda c: run_either(
        c, lambda c: c.f(TEXT, b"hello", length_form=16), ("text", b"hello")))
    add("1.nonminimal-64bit-length", lambda c: run_either(
        c, lambda c: c.f(TEXT, b"hello", length_form=64), ("text", b"hello")))

    # 2 pings and pongs
    add("2.ping.empty", lambda c: (c.setup(), c.send(c.f(PING)), c.expect([("pong", b"")]),
                                   c.finish()))
    p125 = os.urandom(125)
    add("2.ping.125", lambda c: (c.setup(), c.send(c.f(PING, p125)),
                                 c.expect([("pong", p125)]), c.finish()))
    add("2.ping.125-chopped", lambda c: (c.setup(), c.send(c.f(PING, p125), chunk=1, delay=0.001),
                                         c.expect([("pong", p125)]), c.finish()), scale=2)
    add("2.ping.126", lambda c: run_fail(c, lambda c: c.f(PING, bytes(126), length_form=16)))
    add("2.ping.fragmented", lambda c: run_fail(
        c, lambda c: c.f(PING, b"frag", fin=False) + c.f(CONT, b"ment")))
    add("2.pong.unsolicited-empty", lambda c: run_echo_after(c, c_pong=b""))
    add("2.pong.unsolicited-125", lambda c: run_echo_after(c, c_pong=p125))
    add("2.ping.ten", run_ping_ten)
    add("2.ping.then-text", lambda c: (c.setup(), c.send(c.f(PING, b"p") + c.f(TEXT, b"t")),
                                       c.expect([("pong", b"p"), ("text", b"t")]), c.finish()))

    # 3 reserved bits
    for rsv, op, name in [(RSV1, TEXT, "rsv1.text"), (RSV2, TEXT, "rsv2.text"),
                          (RSV3, TEXT, "rsv3.text"), (RSV1 | RSV3, BINARY, "rsv5.binary"),
                          (RSV1, PING, "rsv1.ping"), (RSV1 | RSV2, PING, "rsv6.ping"),
                          (7, CLOSE, "rsv7.close")]:
        payload = close_payload(1000) if op == CLOSE else b"reserved"
        add(f"3.{name}", lambda c, rsv=rsv, op=op, payload=payload: run_fail(
            c, lambda c: c.f(op, payload, rsv=rsv)))
    add("3.rsv2.after-valid-text", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"valid") + c.f(TEXT, b"bad", rsv=RSV2) + c.f(PING, b"x"),
        before=[("text", b"valid")]))

    # 4 opcodes
    for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]:
        add(f"4.opcode.{op}", lambda c, op=op: run_fail(c, lambda c: c.f(op, b"reserved")))
    add("4.opcode.5.after-valid-text", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"valid") + c.f(5, b"x") + c.f(PING, b"x"),
        before=[("text", b"valid")]))
    add("4.opcode.11.after-valid-text", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"valid") + c.f(0xB, b"x") + c.f(PING, b"x"),
        before=[("text", b"valid")]))

    # 5 fragmentation
    greeting = b"Hello, fragmented world!"
    add("5.frag.text-2", lambda c: run_echo(c, [(TEXT, text_bytes(300), False, 2)]))
    add("5.frag.binary-2", lambda c: run_echo(c, [(BINARY, os.urandom(300), False, 2)]))
    add("5.frag.text-100", lambda c: run_echo(c, [(TEXT, text_bytes(1000), False, 100)]))
    add("5.frag.text-1byte", lambda c: run_echo(c, [(TEXT, greeting, False, [1] * len(greeting))]))
    add("5.frag.binary-1byte-chopped", lambda c: run_echo(
        c, [(BINARY, greeting, False, [1] * len(greeting))], chunk=3, delay=0.001), scale=2)
    add("5.frag.empty-first", lambda c: run_echo(c, [(TEXT, b"abc", False, [0, 3])]))
    add("5.frag.empty-middle", lambda c: run_echo(c, [(TEXT, b"abcdef", False, [3, 0, 3])]))
    add("5.frag.empty-last", lambda c: run_echo(c, [(TEXT, b"abc", False, [3, 0])]))
    add("5.frag.all-empty", lambda c: run_echo(c, [(TEXT, b"", False, [0, 0, 0])]))
    add("5.frag.ping-between", lambda c: (
        c.setup(), c.send(c.f(TEXT, b"frag", fin=False) + c.f(PING, b"in between")
                          + c.f(CONT, b"ment")),
        c.expect([("pong", b"in between"), ("text", b"fragment")]), c.finish()))
    add("5.frag.ping-between-separate-writes", lambda c: run_frag_ping_paced(c), scale=2)
    add("5.frag.pong-between", lambda c: (
        c.setup(), c.send(c.f(BINARY, b"frag", fin=False) + c.f(PONG, b"unsolicited")
                          + c.f(CONT, b"ment")),
        c.expect([("binary", b"fragment")]), c.finish()))
    add("5.frag.continuation-without-start", lambda c: run_fail(
        c, lambda c: c.f(CONT, b"orphan")))
    add("5.frag.continuation-without-start-nofin", lambda c: run_fail(
        c, lambda c: c.f(CONT, b"orphan", fin=False) + c.f(CONT, b"orphan")))
    add("5.frag.continuation-after-complete", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"done") + c.f(CONT, b"late"), before=[("text", b"done")]))
    add("5.frag.text-while-open", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"open", fin=False) + c.f(TEXT, b"new")))
    add("5.frag.binary-while-open", lambda c: run_fail(
        c, lambda c: c.f(BINARY, b"open", fin=False) + c.f(BINARY, b"new", fin=False)
        + c.f(CONT, b"end")))
    add("5.frag.close-fragmented", lambda c: run_fail(
        c, lambda c: c.f(CLOSE, close_payload(1000), fin=False) + c.f(CONT, b"")))
    add("5.frag.pong-fragmented", lambda c: run_fail(
        c, lambda c: c.f(PONG, b"a", fin=False) + c.f(CONT, b"b")))
    add("5.frag.close-inside-message", lambda c: (
        c.setup(), c.send(c.f(TEXT, b"unfinished", fin=False)),
        c.close_handshake(close_payload(1000), [1000])))

    # 6 UTF-8
    for name, data in VALID_UTF8:
        add(f"6.valid.{name}", lambda c, data=data: run_echo(c, [(TEXT, data)]))
    for name, data in INVALID_UTF8:
        add(f"6.invalid.{name}", lambda c, data=data: run_fail(
            c, lambda c: c.f(TEXT, data), codes=(1007,)))
    add("6.valid.kosme.1byte-fragments", lambda c: run_utf8_bytewise(c, KOSME, True))
    add("6.valid.emoji.1byte-fragments", lambda c: run_utf8_bytewise(
        c, "a😀b€c".encode(), True))
    add("6.invalid.kosme-surrogate.1byte-fragments", lambda c: run_utf8_bytewise(
        c, KOSME_SURROGATE, False), scale=2)
    add("6.invalid.kosme-truncated.1byte-fragments", lambda c: run_utf8_bytewise(
        c, KOSME + b"\xce", False), scale=2)
    add("6.binary-not-validated", lambda c: run_echo(   # only text is UTF-8
        c, [(BINARY, b"\xff\xfe\xed\xa0\x80")]))


def run_echo_after(c, c_pong):
    c.setup()
    c.send(c.f(PONG, c_pong) + c.f(TEXT, b"after the pong"))
    c.expect([("text", b"after the pong")])
    c.finish()


def run_frag_ping_paced(c):
    c.setup()
    for frame in (c.f(TEXT, b"frag", fin=False), c.f(PING, b"paced"), c.f(CONT, b"men", fin=False),
                  c.f(CONT, b"t")):
        c.send(frame)
        c.conn.pause(0.02)
    c.expect([("pong", b"paced"), ("text", b"fragment")])
    c.finish()


VALID_UTF8 = [
    ("ascii", b"Hello, world!"),
    ("latin-mix", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    ("nul", b"\x00"),
    ("u0080-2byte-min", b"\xc2\x80"),
    ("u07ff-2byte-max", b"\xdf\xbf"),
    ("u0800-3byte-min", b"\xe0\xa0\x80"),
    ("ud7ff-before-surrogates", b"\xed\x9f\xbf"),
    ("ue000-after-surrogates", b"\xee\x80\x80"),
    ("ufdd0-noncharacter", b"\xef\xb7\x90"),
    ("ufeff-bom", b"\xef\xbb\xbfBOM"),
    ("ufffd", b"\xef\xbf\xbd"),
    ("uffff", b"\xef\xbf\xbf"),
    ("u10000-4byte-min", b"\xf0\x90\x80\x80"),
    ("u10ffff-max", b"\xf4\x8f\xbf\xbf"),
    ("kosme", KOSME),
    ("emoji", "😀 👍🏽".encode()),
]

INVALID_UTF8 = [
    ("continuation-80", b"\x80"),
    ("continuation-bf", b"\xbf"),
    ("continuation-run", b"\x80\xbf\x80\xbf"),
    ("overlong-nul-c0-80", b"\xc0\x80"),
    ("overlong-slash-c0-af", b"\xc0\xaf"),
    ("overlong-c1-bf", b"\xc1\xbf"),
    ("overlong-slash-e0-80-af", b"\xe0\x80\xaf"),
    ("overlong-e0-9f-bf", b"\xe0\x9f\xbf"),
    ("overlong-slash-f0-80-80-af", b"\xf0\x80\x80\xaf"),
    ("overlong-f0-8f-bf-bf", b"\xf0\x8f\xbf\xbf"),
    ("surrogate-ed-a0-80", b"\xed\xa0\x80"),
    ("surrogate-ed-bf-bf", b"\xed\xbf\xbf"),
    ("surrogate-pair", b"\xed\xa0\x80\xed\xb0\x80"),
    ("above-max-f4-90-80-80", b"\xf4\x90\x80\x80"),
    ("f5", b"\xf5\x80\x80\x80"),
    ("f8-5byte", b"\xf8\x88\x80\x80\x80"),
    ("fc-6byte", b"\xfc\x84\x80\x80\x80\x80"),
    ("fe", b"\xfe"),
    ("ff", b"\xff"),
    ("truncated-2byte-at-end", b"abc\xc2"),
    ("truncated-3byte-at-end", b"abc\xe2\x82"),
    ("truncated-4byte-at-end", b"abc\xf0\x9f\x98"),
    ("kosme-truncated", KOSME + b"\xce"),
    ("lead-then-ascii", b"\xc2\x20"),
    ("ff-in-middle", b"Hello\xffworld"),
    ("kosme-surrogate-edited", KOSME_SURROGATE),
]

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
REGISTERED_CODES = [1012, 1013, 1014]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def add_split_cases(add):
    """Two fragments, split at every byte boundary."""
    for i in range(1, len(KOSME)):
        add(f"6.valid.kosme.split-at-{i}", lambda c, i=i: run_echo(
            c, [(TEXT, KOSME, False, [i, len(KOSME) - i])]))
    for i in range(1, len(KOSME_SURROGATE)):
        add(f"6.invalid.kosme-surrogate.split-at-{i}", lambda c, i=i: run_fail(
            c, lambda c: c.f(TEXT, KOSME_SURROGATE[:i], fin=False)
            + c.f(CONT, KOSME_SURROGATE[i:]), codes=(1007,)))


def add_close_cases(add):
    add("7.close.empty", lambda c: (c.setup(), c.close_handshake(b"", [None, 1000])))
    add("7.close.1000", lambda c: (c.setup(), c.close_handshake(close_payload(1000), [1000])))
    add("7.close.1000-reason", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000, b"bye"), [1000])))
    for code in VALID_CODES:
        add(f"7.close.valid.{code}", lambda c, code=code: (
            c.setup(), c.close_handshake(close_payload(code, b"ok"), [code])))
    for code in REGISTERED_CODES:   # IANA-registered after RFC 6455: echo or 1002 are both seen
        add(f"7.close.registered.{code}", lambda c, code=code: (
            c.setup(), c.close_handshake(close_payload(code), [code, 1002])))
    for code in INVALID_CODES:
        add(f"7.close.invalid.{code}", lambda c, code=code: (
            c.setup(), c.close_handshake(close_payload(code), [1002])))
    add("7.close.1byte-payload", lambda c: (c.setup(), c.close_handshake(b"\x03", [1002])))
    add("7.close.reason-invalid-utf8", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000, b"ok\xed\xa0\x80"), [1007])))
    add("7.close.reason-123", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000, b"r" * 123), [1000])))
    add("7.close.reason-124", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000, b"r" * 124), [1002])))
    add("7.close.then-text", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000), [1000], extra=c.f(TEXT, b"late"))))
    add("7.close.then-ping", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000), [1000], extra=c.f(PING, b"late"))))
    add("7.close.chopped", lambda c: (
        c.setup(), c.close_handshake(close_payload(1000, b"slowly"), [1000], chunk=1,
                                     delay=0.002)))
    add("7.close.after-text", lambda c: (
        c.setup(), c.send(c.f(TEXT, b"before")), c.expect([("text", b"before")]),
        c.close_handshake(close_payload(1001), [1001])))


# --------------------------------------------------------------------------------------------
# mode A: cases that only make sense against a server


def a_refused(ctx, status_ok=lambda s: 400 <= s < 500, close_ok=False, **kw):
    """The server must not upgrade: a 4xx (or, with close_ok, any error status or closing the
    connection without an answer, for requests that are not WebSocket upgrades at all)."""
    try:
        head = ctx.open(**kw)
    except CaseFailure as failure:
        if close_ok and ctx.conn is not None and ctx.conn.eof:
            ctx.info["outcome"] = "connection closed without a response"
            return None
        raise failure
    ctx.info["status"] = head.status
    if head.status == 101 or not status_ok(head.status):
        raise CaseFailure("a 4xx response (no upgrade)", repr(head.start))
    return head


def a_version(ctx):
    head = a_refused(ctx, version="12")
    supported = head.get("sec-websocket-version")
    ctx.info["sec_websocket_version"] = supported
    if supported is None or "13" not in [v.strip() for v in supported.split(",")]:
        raise CaseFailure("Sec-WebSocket-Version: 13 in the refusal (RFC 6455 4.4)",
                          f"{head.start!r} with Sec-WebSocket-Version {supported!r}")


def a_subprotocol(ctx, offered, chosen):
    head = ctx.setup(protocols=offered)
    got = head.get("sec-websocket-protocol")
    if got != chosen:
        raise CaseFailure(f"Sec-WebSocket-Protocol {chosen!r}", repr(got))
    run_echo(ctx, [(TEXT, b"sub")], setup=False)


def a_server_close(ctx, code, reason):
    ctx.setup()
    ctx.send(ctx.f(TEXT, f"close:{code}:{reason}".encode()))
    ctx.expect_close([code], reason=reason.encode())


def a_pmd_offer(ctx, offer, decline_ok=False):
    head = ctx.open(extensions=offer)
    problems = response_problems(head)
    if problems:
        raise CaseFailure("101 Switching Protocols", "; ".join(problems))
    ext = head.get("sec-websocket-extensions")
    if ext is None:
        if not decline_ok:
            raise CaseFailure("permessage-deflate accepted (the contract accepts every offer)",
                              "declined: no Sec-WebSocket-Extensions header")
        ctx.info["outcome"] = "declined"
        run_echo(ctx, [(TEXT, b"uncompressed")], setup=False)
        return
    agreed, error = check_pmd_response(offer, ext)
    if error:
        raise CaseFailure("a valid permessage-deflate response to the offer", f"{ext!r}: {error}")
    ctx.conn.set_pmd(agreed)
    ctx.info["negotiated"] = ext
    run_pmd_exchange(ctx)


def a_pmd_invalid_offer(ctx, offer):
    head = ctx.open(extensions=offer)
    if head.status != 101:
        if 400 <= head.status < 500:
            ctx.info["outcome"] = f"handshake refused ({head.status})"
            return
        raise CaseFailure("101 without permessage-deflate, or a 4xx", repr(head.start))
    problems = response_problems(head)
    if problems:
        raise CaseFailure("a valid 101 response", "; ".join(problems))
    ext = head.get("sec-websocket-extensions")
    if ext is not None:
        raise CaseFailure("the invalid offer declined (no Sec-WebSocket-Extensions) or a 4xx",
                          f"accepted: {ext!r}")
    ctx.info["outcome"] = "declined"
    run_echo(ctx, [(TEXT, b"uncompressed")], setup=False)


def bomb(size):
    obj = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = obj.compress(bytes(size)) + obj.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def bomb_in(size, parts):
    data = bomb(size)
    return data, split_sizes(len(data), parts)


def a_big_frame(ctx, size, fragments=1):
    """Streams a message of `size` bytes; the server must fail with 1009 (it may do so before
    all of it is sent, so a write that fails is fine)."""
    ctx.setup()
    data = os.urandom(MiB) * (size // MiB) + os.urandom(size % MiB)
    sizes = split_sizes(size, fragments)
    pos = 0
    for i, n in enumerate(sizes):
        frame = ctx.f(BINARY if i == 0 else CONT, data[pos:pos + n], fin=i == len(sizes) - 1)
        pos += n
        if not ctx.send(frame):
            ctx.info["send_stopped_at_fragment"] = i
            break
    ctx.expect_close([1009])


def add_server_cases(add):
    add("0.handshake.basic", lambda c: run_echo(c, [(TEXT, b"hello")]))
    add("0.handshake.subprotocol-echo", lambda c: a_subprotocol(c, ["chat", "echo"], "echo"))
    add("0.handshake.subprotocol-unknown", lambda c: a_subprotocol(c, ["chat"], None))
    add("0.handshake.version-12", a_version)
    add("0.handshake.missing-key", lambda c: a_refused(c, drop=("Sec-WebSocket-Key",)))
    add("0.handshake.short-key", lambda c: a_refused(
        c, key=base64.b64encode(os.urandom(8)).decode()))
    add("0.handshake.missing-upgrade", lambda c: a_refused(
        c, drop=("Upgrade",), status_ok=lambda s: s >= 400, close_ok=True))
    add("0.handshake.post", lambda c: a_refused(
        c, method="POST", status_ok=lambda s: s >= 400, close_ok=True))

    add_shared_cases(add)
    add_split_cases(add)
    add_close_cases(add)
    add("7.close.server-initiated-4000", lambda c: a_server_close(c, 4000, "done"))
    add("7.close.server-initiated-1000", lambda c: a_server_close(c, 1000, "bye"))
    add("7.close.server-initiated-3999", lambda c: a_server_close(c, 3999, "r" * 100))

    add("8.unmasked.text", lambda c: run_fail(c, lambda c: c.f(TEXT, b"bare", masked=False)))
    add("8.unmasked.ping", lambda c: run_fail(c, lambda c: c.f(PING, b"bare", masked=False)))
    add("8.unmasked.after-valid", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"ok") + c.f(BINARY, b"bare", masked=False),
        before=[("text", b"ok")]))
    add("8.length.2pow62", lambda c: run_prompt_fail(c, 1 << 62, (1009, 1002)))
    add("8.length.msb-set", lambda c: run_prompt_fail(c, 1 << 63, (1002, 1009)))
    add("8.limit.exactly-16MiB", lambda c: run_echo(c, [(BINARY, os.urandom(LIMIT))]), scale=8)
    add("8.limit.16MiB-plus-1", lambda c: a_big_frame(c, LIMIT + 1), scale=8)
    add("8.limit.17MiB-in-17-fragments", lambda c: a_big_frame(c, 17 * MiB, 17), scale=8)

    # 9 permessage-deflate: negotiation
    offers = [("plain", "permessage-deflate"),
              ("server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
              ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
              ("both_no_context_takeover",
               "permessage-deflate; server_no_context_takeover; client_no_context_takeover")]
    offers += [(f"server_max_window_bits-{b}", f"permessage-deflate; server_max_window_bits={b}")
               for b in range(9, 16)]
    offers += [("client_max_window_bits", "permessage-deflate; client_max_window_bits")]
    offers += [(f"client_max_window_bits-{b}", f"permessage-deflate; client_max_window_bits={b}")
               for b in range(9, 16)]
    offers += [("all-four", "permessage-deflate; server_no_context_takeover; "
                "client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"),
               ("quoted-value", 'permessage-deflate; server_max_window_bits="10"'),
               ("multiple.unknown-param-first",
                "permessage-deflate; foo=1, permessage-deflate; client_max_window_bits"),
               ("multiple.bad-value-first",
                "permessage-deflate; server_max_window_bits=7, permessage-deflate"),
               ("multiple.unknown-extension-first",
                "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits")]
    for name, offer in offers:
        add(f"9.offer.{name}", lambda c, offer=offer: a_pmd_offer(c, offer))
    add("9.offer.server_max_window_bits-8", lambda c: a_pmd_offer(
        c, "permessage-deflate; server_max_window_bits=8", decline_ok=True))
    invalid = [("unknown-param", "permessage-deflate; foo=1"),
               ("duplicate-server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
               ("duplicate-client_max_window_bits",
                "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11"),
               ("server_max_window_bits-16", "permessage-deflate; server_max_window_bits=16"),
               ("server_max_window_bits-7", "permessage-deflate; server_max_window_bits=7"),
               ("server_max_window_bits-abc", "permessage-deflate; server_max_window_bits=abc"),
               ("server_max_window_bits-novalue", "permessage-deflate; server_max_window_bits"),
               ("client_max_window_bits-16", "permessage-deflate; client_max_window_bits=16"),
               ("client_max_window_bits-0", "permessage-deflate; client_max_window_bits=0"),
               ("server_no_context_takeover-value",
                "permessage-deflate; server_no_context_takeover=1")]
    for name, offer in invalid:
        add(f"9.offer-invalid.{name}", lambda c, offer=offer: a_pmd_invalid_offer(c, offer))
    add_pmd_message_cases(add)
    add("9.bomb.20MiB", lambda c: run_fail(
        c, lambda c: c.f(BINARY, bomb(20 * MiB), rsv=RSV1), codes=(1009,), pmd="default"),
        scale=3)
    add("9.bomb.20MiB-fragmented", lambda c: run_fail(
        c, lambda c: c.compressed_fragments(BINARY, *bomb_in(20 * MiB, 4)), codes=(1009,),
        pmd="default"),
        scale=3)
    add("9.limit.exactly-16MiB-inflated", lambda c: run_echo(
        c, [(BINARY, bytes(LIMIT), True)], pmd="default"), scale=8)


def add_pmd_message_cases(add):
    """Message-level compression cases under the default negotiation of each side."""
    for n in [0, 1, 125, 126, 65535, 65536]:
        add(f"9.msg.text.{n}", lambda c, n=n: run_echo(
            c, [(TEXT, text_bytes(n), True)], pmd="default"))
    add("9.msg.binary.1048576-random", lambda c: run_echo(
        c, [(BINARY, os.urandom(MiB), True)], pmd="default"), scale=2)
    add("9.msg.text.1048576-compressible", lambda c: run_echo(
        c, [(TEXT, text_bytes(MiB), True)], pmd="default"), scale=2)
    add("9.msg.fragmented-3", lambda c: run_echo(
        c, [(TEXT, text_bytes(5000), True, 3)], pmd="default"))
    add("9.msg.fragmented-1byte", lambda c: run_echo_compressed_bytewise(c), scale=2)
    add("9.msg.fragmented-empty-first", lambda c: run_echo(
        c, [(BINARY, text_bytes(2000), True, [0, 10])], pmd="default"))
    add("9.msg.mixed", lambda c: run_echo(
        c, [(TEXT, b"compressed one", True), (BINARY, os.urandom(200), False),
            (BINARY, text_bytes(3000), True), (TEXT, b"plain one", False),
            (TEXT, b"compressed one", True)], pmd="default"))
    add("9.msg.context-takeover-20", lambda c: run_echo(
        c, [(TEXT, b'{"id": %d, "name": "sensor", "value": %d}' % (i, i * 7), True)
            for i in range(20)], pmd="default"))
    add("9.msg.ping-between-fragments", lambda c: run_compressed_ping_between(c))
    add("9.rsv1-on-continuation", lambda c: run_fail(
        c, lambda c: c.f(TEXT, c.conn.deflater.compress(b"x" * 50)[:3], fin=False, rsv=RSV1)
        + c.f(CONT, b"\x00", rsv=RSV1), pmd="default"))
    add("9.rsv1-on-ping", lambda c: run_fail(c, lambda c: c.f(PING, b"x", rsv=RSV1),
                                             pmd="default"))
    add("9.rsv1-on-close", lambda c: run_fail(
        c, lambda c: c.f(CLOSE, close_payload(1000), rsv=RSV1), pmd="default"))
    add("9.rsv2-with-compression", lambda c: run_fail(
        c, lambda c: c.f(TEXT, b"x", rsv=RSV2), pmd="default"))
    add("9.invalid-deflate-data", lambda c: run_fail(
        c, lambda c: c.f(BINARY, b"\xff\xff\xff\xff\xff", rsv=RSV1), codes=(1002, 1007),
        pmd="default"))
    add("9.compressed-invalid-utf8", lambda c: run_fail(
        c, lambda c: c.f(TEXT, c.conn.deflater.compress(KOSME_SURROGATE), rsv=RSV1),
        codes=(1007,), pmd="default"))


def run_echo_compressed_bytewise(c):
    c.setup("default")
    data = b"Hello, compressed fragments! " * 3
    payload = c.conn.deflater.compress(data)
    c.send(c.compressed_fragments(TEXT, payload, [1] * len(payload)))
    c.expect([("text", data)])
    c.finish()


def run_compressed_ping_between(c):
    c.setup("default")
    data = text_bytes(3000)
    payload = c.conn.deflater.compress(data)
    half = len(payload) // 2
    c.send(c.f(TEXT, payload[:half], fin=False, rsv=RSV1) + c.f(PING, b"between")
           + c.f(CONT, payload[half:]))
    c.expect([("pong", b"between"), ("text", data)])
    c.finish()


# --------------------------------------------------------------------------------------------
# mode B: cases that only make sense against a client


def b_refusal(ctx, **respond):
    ctx.check_request()
    ctx.respond(**respond)
    ctx.expect_refusal()


def b_tcp_close_after_echo(ctx):
    ctx.setup()
    ctx.send(ctx.f(TEXT, b"then the TCP connection ends"))
    ctx.expect([("text", b"then the TCP connection ends")])
    ctx.conn.shutdown()
    closed, extra = ctx.conn.drain_until_eof(ctx.deadline)
    ctx.info["client_closed_tcp"] = closed
    ctx.info["frames_after_tcp_close"] = extra


def b_tcp_close_mid_frame(ctx):
    ctx.setup()
    frame = ctx.f(TEXT, text_bytes(100))
    ctx.send(frame[:7])
    ctx.conn.pause(0.05)
    ctx.conn.shutdown()
    closed, extra = ctx.conn.drain_until_eof(ctx.deadline)
    ctx.info["client_closed_tcp"] = closed
    ctx.info["client_frames"] = extra


def b_pmd_response(ctx, response):
    ctx.setup(response)
    run_pmd_exchange(ctx)


def b_pmd_refusal(ctx, ext):
    ctx.check_request()
    if not parse_extensions(ctx.request.get("sec-websocket-extensions")):
        raise CaseFailure("the client offers permessage-deflate",
                          repr(ctx.request.get("sec-websocket-extensions")))
    ctx.respond(ext=ext)
    ctx.expect_refusal()


def add_client_cases(add, client_limit):
    add("0.handshake.valid-mixed-case", lambda c: (
        c.check_request(),
        c.respond(raw="HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                      "CONNECTION: keep-alive, Upgrade\r\nsec-websocket-accept: "
                      + accept_key(c.request.get("sec-websocket-key") or "") + "\r\n\r\n"),
        run_echo(c, [(TEXT, b"mixed-case headers")], setup=False)))
    add("0.handshake.bad-accept", lambda c: b_refusal(c, accept=accept_key("x" * 24)))
    add("0.handshake.missing-accept", lambda c: b_refusal(c, omit=("Sec-WebSocket-Accept",)))
    add("0.handshake.status-200", lambda c: b_refusal(c, status=200))
    add("0.handshake.status-403", lambda c: b_refusal(c, status=403))
    add("0.handshake.missing-upgrade", lambda c: b_refusal(c, omit=("Upgrade",)))
    add("0.handshake.wrong-upgrade", lambda c: b_refusal(c, upgrade="h2c"))
    add("0.handshake.missing-connection", lambda c: b_refusal(c, omit=("Connection",)))
    add("0.handshake.unoffered-subprotocol", lambda c: b_refusal(c, protocol="x-unoffered"))
    add("0.handshake.unoffered-extension", lambda c: b_refusal(c, ext="x-unoffered-extension"))

    add_shared_cases(add)
    add_close_cases(add)
    add("7.tcp.close-without-close-frame", b_tcp_close_after_echo)
    add("7.tcp.close-mid-frame", b_tcp_close_mid_frame)

    add("8.masked.text", lambda c: run_fail(c, lambda c: c.f(TEXT, b"masked", masked=True)))
    add("8.masked.ping", lambda c: run_fail(c, lambda c: c.f(PING, b"masked", masked=True)))
    add("8.length.2pow62", lambda c: run_prompt_fail(c, 1 << 62, (1009, 1002)))
    add("8.length.msb-set", lambda c: run_prompt_fail(c, 1 << 63, (1002, 1009)))

    responses = [("plain", "permessage-deflate"),
                 ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
                 ("server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
                 ("client_max_window_bits-9", "permessage-deflate; client_max_window_bits=9"),
                 ("client_max_window_bits-10", "permessage-deflate; client_max_window_bits=10"),
                 ("client_max_window_bits-12", "permessage-deflate; client_max_window_bits=12"),
                 ("server_max_window_bits-10", "permessage-deflate; server_max_window_bits=10"),
                 ("all-four", "permessage-deflate; server_no_context_takeover; "
                  "client_no_context_takeover; server_max_window_bits=9; "
                  "client_max_window_bits=9")]
    for name, response in responses:
        add(f"9.response.{name}", lambda c, response=response: b_pmd_response(c, response))
    refusals = [("unknown-param", "permessage-deflate; foo=1"),
                ("client_max_window_bits-16", "permessage-deflate; client_max_window_bits=16"),
                ("server_max_window_bits-novalue", "permessage-deflate; server_max_window_bits"),
                ("duplicate-param",
                 "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
                ("twice", "permessage-deflate, permessage-deflate")]
    for name, ext in refusals:
        add(f"9.refuse.{name}", lambda c, ext=ext: b_pmd_refusal(c, ext))
    add_pmd_message_cases(add)
    add("9.bomb", lambda c: run_fail(
        c, lambda c: c.f(BINARY, bomb(client_limit + 4 * MiB), rsv=RSV1), codes=(1009,),
        pmd="default"), scale=2)


# --------------------------------------------------------------------------------------------
# running


class Case:
    def __init__(self, cid, fn, scale):
        self.id, self.fn, self.scale = cid, fn, scale


def collect(adder, *args):
    cases, seen = [], set()

    def add(cid, fn, scale=1):
        if cid in seen:
            raise ValueError(f"duplicate case id {cid}")
        seen.add(cid)
        cases.append(Case(cid, fn, scale))

    adder(add, *args)
    return cases


def select_cases(cases, patterns):
    if not patterns:
        return cases
    globs = []
    for p in patterns.split(","):
        p = p.strip()
        if p:
            globs.append(p if any(ch in p for ch in "*?[") else p + "*")
    return [c for c in cases if any(fnmatch.fnmatchcase(c.id, g) for g in globs)]


def clip(value, limit=400):
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


class Results:
    def __init__(self, info):
        self.passed = 0
        self.failed = []
        self.total = 0
        self.case_info = {}
        self.info = info
        self.lock = threading.Lock()
        self.emitted = False

    def record(self, cid, ok, expected=None, got=None, info=None, verbose=False, ms=0):
        with self.lock:
            self.total += 1
            if ok:
                self.passed += 1
            else:
                self.failed.append({"case": cid, "expected": clip(expected), "got": clip(got)})
            if info:
                self.case_info[cid] = info
        if verbose:
            status = "PASS" if ok else "FAIL"
            extra = "" if ok else f"  expected {clip(expected)}; got {clip(got)}"
            print(f"{status} {cid} ({ms} ms){extra}", file=sys.stderr, flush=True)

    def emit(self, **extra):
        with self.lock:
            if self.emitted:
                return None
            self.emitted = True
            info = dict(self.info)
            info.update(extra)
            info["cases"] = self.case_info
            print(json.dumps({"passed": self.passed, "failed": self.failed, "total": self.total,
                              "info": info}), flush=True)
            return 0 if not self.failed and self.total else 1


def run_case(case, ctx, results, verbose):
    start = time.monotonic()
    ctx.deadline = start + ctx.timeout * case.scale
    ctx.info = {}
    try:
        case.fn(ctx)
        ok, expected, got = True, None, None
    except CaseFailure as failure:
        ok, expected, got = False, failure.expected, failure.got
    except Exception as exc:  # a bug in the suite or something unforeseen on the wire
        ok, expected, got = False, "the case to run", f"suite error {type(exc).__name__}: {exc}"
    ms = int((time.monotonic() - start) * 1000)
    results.record(case.id, ok, expected, got, ctx.info, verbose, ms)


def start_watchdog(seconds, results, remaining):
    def fire():
        results.emit(aborted=f"overall time limit of {seconds} s reached", not_run=remaining())
        os._exit(1)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def run_server_target(args, cases):
    url = urlsplit(args.url)
    if url.scheme != "ws" or not url.hostname:
        print("--url must be ws://HOST:PORT/PATH", file=sys.stderr)
        return 2
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    ctx = ServerTargetCtx(url.hostname, url.port or 80, path, args.timeout)
    results = Results({"target": "server", "url": args.url})
    queue = list(cases)
    start_watchdog(args.max_time, results, lambda: [c.id for c in queue])
    began = time.monotonic()
    while queue:
        case = queue[0]
        try:
            run_case(case, ctx, results, args.verbose)
        finally:
            ctx.cleanup()
        queue.pop(0)
    return results.emit(elapsed_s=round(time.monotonic() - began, 2))


def run_client_target(args, cases):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(16)
    port = listener.getsockname()[1]
    print(json.dumps({"port": port, "cases": [c.id for c in cases]}), flush=True)
    results = Results({"target": "client", "port": port})
    by_id = {c.id: c for c in cases}
    pending = [c.id for c in cases]
    began = time.monotonic()
    current = []
    start_watchdog(args.max_time, results, lambda: current + pending)
    masks, requests, unknown, misses = [], {}, [], 0
    while pending:
        readable, _, _ = select.select([listener], [], [], args.timeout)
        if not readable:
            misses += 1
            cid = pending.pop(0)
            results.record(cid, False, f"a connection to /{cid}",
                           "no connection before the timeout", verbose=args.verbose)
            if misses >= 2:
                for cid in pending:
                    results.record(cid, False, f"a connection to /{cid}",
                                   "not run: the client stopped connecting", verbose=args.verbose)
                pending = []
            continue
        misses = 0
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(sock, we_are_client=False)
        try:
            request = read_head(conn, time.monotonic() + args.timeout, "an upgrade request")
        except CaseFailure as failure:
            unknown.append(f"unreadable request: {failure.got}")
            conn.close()
            continue
        target = request.start.split(" ")[1] if len(request.start.split(" ")) > 1 else ""
        cid = target.lstrip("/").split("?", 1)[0]
        if cid not in by_id or cid not in pending:
            unknown.append(target)
            conn.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                      time.monotonic() + 1)
            conn.close()
            continue
        if cid != pending[0]:
            unknown.append(f"out of order: {cid} before {pending[0]}")
        pending.remove(cid)
        if not requests:
            requests["first_request"] = {n: v for n, v in request.fields}
        ctx = ClientTargetCtx(conn, request, args.timeout)
        current[:] = [cid]
        try:
            run_case(by_id[cid], ctx, results, args.verbose)
        finally:
            current[:] = []
            masks.extend(conn.masks)
            conn.close()
    distinct = len(set(masks))
    return results.emit(
        elapsed_s=round(time.monotonic() - began, 2), unexpected_requests=unknown,
        client_masks={"frames": len(masks), "distinct": distinct,
                      "repeated": len(masks) - distinct,
                      "all_zero": sum(1 for m in masks if m == b"\x00\x00\x00\x00")},
        **requests)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["server", "client"], required=True)
    parser.add_argument("--url", help="server target: ws://HOST:PORT/PATH of the echo endpoint")
    parser.add_argument("--port", type=int, default=0, help="client target: port to listen on")
    parser.add_argument("--bind", default="127.0.0.1", help="client target: address to bind")
    parser.add_argument("--case", help="comma-separated glob patterns (no wildcard = prefix)")
    parser.add_argument("--list", action="store_true", help="print the selected case ids")
    parser.add_argument("--timeout", type=float, help="seconds per case (2 server, 3 client)")
    parser.add_argument("--max-time", type=float, help="overall limit (client: 90 s)")
    parser.add_argument("--client-limit", type=int, default=LIMIT,
                        help="client target: the client's message limit (for 9.bomb)")
    parser.add_argument("--verbose", action="store_true", help="one line per case on stderr")
    args = parser.parse_args()
    if args.target == "server":
        cases = collect(add_server_cases)
        args.timeout = args.timeout or 2.0
        args.max_time = args.max_time or 900.0
    else:
        cases = collect(add_client_cases, args.client_limit)
        args.timeout = args.timeout or 3.0
        args.max_time = args.max_time or 90.0
    cases = select_cases(cases, args.case)
    if args.list:
        for case in cases:
            print(case.id)
        return 0
    if not cases:
        print("no case matches --case", file=sys.stderr)
        return 2
    if args.target == "server":
        if not args.url:
            print("--target server needs --url", file=sys.stderr)
            return 2
        return run_server_target(args, cases)
    return run_client_target(args, cases)


if __name__ == "__main__":
    sys.exit(main())
