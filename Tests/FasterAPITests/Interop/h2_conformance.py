"""A strict frame-level HTTP/2 conformance checker for the FasterAPI demo (RFC 9113).

Usage: h2_conformance.py --demo PATH/fasterapi-demo [--tls] [--only CASE ...] [--slow] [--list]

Starts the demo on a free 127.0.0.1 port (see h2_harness.py), runs every case with its own
timeout and prints one JSON line per case: {"case": ..., "ok": ..., "detail": ...}. Exit status 0
iff all cases pass. The cases follow h2spec's groups (RFC 9113 sections), plus the server's own
documented limits (settings, flood and rapid-reset protection, header limits, graceful shutdown).

Two clients are used:
- `H2Client`, on the `h2` library, for well-formed exchanges: h2 validates everything the server
  sends (flow control, header validity, stream states) and raises on any violation.
- `RawConn`, hand-built frames (our own 9-byte header packing) read back with `hyperframe` and
  `hpack`, for everything `h2` would refuse to send: invalid frames, malformed header blocks,
  floods. It records every frame it receives, so failures show the frames the server sent.

Cases that expect an error assert the RFC's required error code. A stream error (RFC 9113
§5.4.2) is satisfied by RST_STREAM with that code or, since an endpoint MAY treat any stream error
as a connection error, by GOAWAY with that code (the detail then says so).
"""

import base64
import json
import os
import select
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402
import hpack  # noqa: E402
from h2.errors import ErrorCodes  # noqa: E402
from hyperframe.frame import (  # noqa: E402
    ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame,
    SettingsFrame, WindowUpdateFrame)

from h2_harness import CaseFailure, Suite, check  # noqa: E402

suite = Suite(__doc__.splitlines()[0])

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6) and flags.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Setting identifiers (RFC 9113 §6.5.2, RFC 8441 §3).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE = 0x1, 0x2, 0x3, 0x4
MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, ENABLE_CONNECT_PROTOCOL = 0x5, 0x6, 0x8

# What the server advertises (see the server's HTTP/2 configuration).
EXPECTED_SERVER_SETTINGS = {
    MAX_CONCURRENT_STREAMS: 100,
    INITIAL_WINDOW_SIZE: 1 << 20,
    MAX_FRAME_SIZE: 16384,
    MAX_HEADER_LIST_SIZE: 65536,
    ENABLE_CONNECT_PROTOCOL: 1,
}
SETTING_NAMES = {1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH", 3: "MAX_CONCURRENT_STREAMS", 4: "INITIAL_WINDOW_SIZE",
                 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE", 8: "ENABLE_CONNECT_PROTOCOL"}

MAX_STREAM_ID = 2**31 - 1
JSON_BODY = {"message": "Hello, World!"}
ACCOUNT = {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36, "score": 9.5, "tags": ["math", "poetry"]}


def code_name(code):
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"


def frame(type_, flags, stream_id, payload=b""):
    """One frame, packed by hand (so invalid frames can be built too)."""
    return struct.pack(">I", len(payload))[1:] + bytes([type_, flags]) + struct.pack(">I", stream_id) + payload


def settings_payload(pairs):
    return b"".join(struct.pack(">HI", key, value) for key, value in pairs)


def stream_lines(count):
    return "".join(f"chunk {i}\n" for i in range(1, count + 1)).encode()


def multipart(boundary, fields, files):
    """A multipart/form-data body: fields are (name, text), files are (name, filename, type, bytes)."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, filename, content_type, data in files:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def describe(f):
    """A compact description of a received frame, for case details."""
    name = type(f).__name__.replace("Frame", "").upper()
    flags = ",".join(sorted(f.flags)) if f.flags else ""
    if isinstance(f, GoAwayFrame):
        return f"GOAWAY(last={f.last_stream_id},{code_name(f.error_code)},{bytes(f.additional_data[:80])!r})"
    if isinstance(f, RstStreamFrame):
        return f"RST_STREAM({f.stream_id},{code_name(f.error_code)})"
    if isinstance(f, HeadersFrame):
        status = dict(getattr(f, "headers", [])).get(":status", "")
        return f"HEADERS({f.stream_id},{status or 'trailers'}{',' + flags if flags else ''})"
    if isinstance(f, DataFrame):
        return f"DATA({f.stream_id},{len(f.data)}{',' + flags if flags else ''})"
    if isinstance(f, SettingsFrame):
        return f"SETTINGS({'ACK' if 'ACK' in f.flags else dict(f.settings)})"
    if isinstance(f, PingFrame):
        return f"PING({'ACK,' if 'ACK' in f.flags else ''}{bytes(f.opaque_data)!r})"
    if isinstance(f, WindowUpdateFrame):
        return f"WINDOW_UPDATE({f.stream_id},+{f.window_increment})"
    return f"{name}({f.stream_id}{',' + flags if flags else ''})"


CLOSED = "closed"


class Response:
    def __init__(self, stream_id):
        self.stream_id = stream_id
        self.headers = []
        self.body = bytearray()
        self.trailers = None
        self.ended = False
        self.reset = None  # error code of a RST_STREAM

    @property
    def status(self):
        value = dict(self.headers).get(":status")
        return int(value) if value else None

    def header(self, name):
        return dict(self.headers).get(name)

    def json(self):
        return json.loads(bytes(self.body))

    def __repr__(self):
        body = bytes(self.body[:120])
        return f"<stream {self.stream_id}: status={self.status} ended={self.ended} reset={self.reset} body={body!r}>"


class RawConn:
    """A client connection that sends hand-built frames and records every frame it receives.

    It answers the server's SETTINGS and PINGs (unless auto_ack is off) and returns flow-control
    credit for received DATA (unless auto_window is off); header blocks are decoded with one
    HPACK context for the whole connection, CONTINUATION frames folded into their HEADERS.
    """

    def __init__(self, target, settings=(), handshake=True, sock=None, initial=b"", send_preface=True):
        self.target = target
        self.sock = sock or target.connect()
        self.buffer = bytearray(initial)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.server_settings = None
        self.settings_acked = False
        self.first_frame = None
        self.log = []
        self.closed = False
        self.close_reason = ""
        self.auto_ack = True
        self.auto_window = True
        self.pending = None  # (HEADERS frame, header block so far) while CONTINUATION is expected
        self.next_stream = 1
        if send_preface:
            self.send(PREFACE + frame(SETTINGS, 0, 0, settings_payload(settings)))
        if handshake:
            self.handshake()

    # Sending.
    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, type_, flags, stream_id, payload=b""):
        self.send(frame(type_, flags, stream_id, payload))

    def new_stream(self):
        stream_id = self.next_stream
        self.next_stream += 2
        return stream_id

    def request_headers(self, method="GET", path="/json", extra=()):
        return [(":method", method), (":scheme", self.target.scheme), (":authority", self.target.authority),
                (":path", path), *extra]

    def block(self, headers, huffman=True):
        return self.encoder.encode(headers, huffman=huffman)

    def send_headers(self, stream_id, headers, end_stream=True, huffman=True):
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        self.send_frame(HEADERS, flags, stream_id, self.block(headers, huffman))

    def get(self, path="/json", stream_id=None, extra=()):
        stream_id = stream_id or self.new_stream()
        self.send_headers(stream_id, self.request_headers("GET", path, extra))
        return stream_id

    # Receiving.
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except TimeoutError:
            return False
        except (ssl.SSLError, OSError) as error:
            chunk, self.close_reason = b"", f"{type(error).__name__}: {error}"
        if not chunk:
            self.closed = True
            self.log.append("<closed>")
            return False
        self.buffer += chunk
        return True

    def _parse_one(self):
        if len(self.buffer) < 9:
            return None
        length = int.from_bytes(self.buffer[:3], "big")
        if len(self.buffer) < 9 + length:
            return None
        header, body = bytes(self.buffer[:9]), bytes(self.buffer[9:9 + length])
        del self.buffer[:9 + length]
        f, _ = Frame.parse_frame_header(memoryview(header))
        f.parse_body(memoryview(body))
        return f

    def _decode(self, headers_frame, block):
        try:
            headers_frame.headers = self.decoder.decode(bytes(block), raw=False)
        except Exception as error:  # noqa: BLE001
            raise CaseFailure(f"server sent an undecodable header block: {error!r}") from error
        return headers_frame

    def _process(self, f):
        """Handle the housekeeping a frame needs; return what the caller sees (None: nothing yet)."""
        if self.first_frame is None:
            self.first_frame = f
        if self.pending is not None and not isinstance(f, ContinuationFrame):
            raise CaseFailure(f"server interleaved {describe(f)} inside a header block (RFC 9113 §6.10)")
        if isinstance(f, HeadersFrame):
            if "END_HEADERS" not in f.flags:
                self.pending = (f, bytearray(f.data))
                return None
            f = self._decode(f, f.data)
        elif isinstance(f, ContinuationFrame):
            check(self.pending is not None and self.pending[0].stream_id == f.stream_id,
                  "server sent CONTINUATION without a HEADERS before it")
            self.pending[1].extend(f.data)
            if "END_HEADERS" not in f.flags:
                return None
            headers_frame, block = self.pending
            self.pending = None
            f = self._decode(headers_frame, block)
        elif isinstance(f, SettingsFrame):
            if "ACK" in f.flags:
                self.settings_acked = True
            else:
                if self.server_settings is None:
                    self.server_settings = {}
                self.server_settings.update(f.settings)
                if self.auto_ack:
                    self.send_frame(SETTINGS, ACK, 0)
        elif isinstance(f, PingFrame):
            if "ACK" not in f.flags and self.auto_ack:
                self.send_frame(PING, ACK, 0, bytes(f.opaque_data))
        elif isinstance(f, DataFrame):
            if self.auto_window and f.flow_controlled_length > 0:
                increment = struct.pack(">I", f.flow_controlled_length)
                self.send_frame(WINDOW_UPDATE, 0, 0, increment)
                if "END_STREAM" not in f.flags:
                    self.send_frame(WINDOW_UPDATE, 0, f.stream_id, increment)
        self.log.append(describe(f))
        return f

    def next_frame(self, timeout=3.0):
        """The next frame (HEADERS with .headers decoded), CLOSED, or None after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse_one()
            if f is not None:
                try:
                    seen = self._process(f)
                except (BrokenPipeError, ConnectionResetError):
                    seen = f  # the server already closed; still report what it sent
                if seen is not None:
                    return seen
                continue
            if self.closed:
                return CLOSED
            if not self._fill(deadline):
                return CLOSED if self.closed else None

    def handshake(self, timeout=5.0):
        """Wait for the server's SETTINGS (its preface) and the ACK of ours."""
        deadline = time.monotonic() + timeout
        while self.server_settings is None or not self.settings_acked:
            f = self.next_frame(max(0.0, deadline - time.monotonic()))
            check(f is not None and f is not CLOSED,
                  f"no SETTINGS exchange within {timeout} s (frames: {self.log}, {self.close_reason})")
            check(isinstance(self.first_frame, SettingsFrame) and "ACK" not in self.first_frame.flags,
                  f"the server's first frame must be SETTINGS (RFC 9113 §3.4), got {self.log[:1]}")

    def collect(self, stream_ids, timeout=5.0):
        """Read until every stream in `stream_ids` has ended or been reset; returns {id: Response}."""
        responses = {sid: Response(sid) for sid in stream_ids}
        deadline = time.monotonic() + timeout
        while not all(r.ended or r.reset is not None for r in responses.values()):
            f = self.next_frame(max(0.0, deadline - time.monotonic()))
            if f is None or f is CLOSED:
                break
            response = responses.get(getattr(f, "stream_id", 0))
            if isinstance(f, GoAwayFrame) and f.error_code != 0:
                break
            if response is None:
                continue
            if isinstance(f, HeadersFrame):
                if response.status is None or response.status < 200:
                    response.headers = f.headers  # the response (an informational one is replaced)
                else:
                    response.trailers = f.headers
            elif isinstance(f, DataFrame):
                response.body += f.data
            elif isinstance(f, RstStreamFrame):
                response.reset = f.error_code
            if "END_STREAM" in getattr(f, "flags", ()):
                response.ended = True
        return responses

    def response(self, stream_id, timeout=5.0):
        return self.collect([stream_id], timeout)[stream_id]

    def wait_error(self, stream_id=None, timeout=3.0):
        """Read until RST_STREAM (on `stream_id`, or any stream if None), GOAWAY or close.

        Returns ("rst", code), ("goaway", code), (CLOSED, None) or ("timeout", None).
        """
        deadline = time.monotonic() + timeout
        while True:
            f = self.next_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return "timeout", None
            if f is CLOSED:
                return CLOSED, None
            if isinstance(f, GoAwayFrame):
                return "goaway", f.error_code
            if isinstance(f, RstStreamFrame) and (stream_id is None or f.stream_id == stream_id):
                return "rst", f.error_code

    def wait_closed(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            f = self.next_frame(max(0.0, deadline - time.monotonic()))
            if f is CLOSED:
                return True
            if f is None:
                return False

    def frames(self):
        return " ".join(self.log[-14:])


# Shared expectations for error cases.

def expect_connection_error(conn, code, what):
    """RFC 9113 §5.4.1: GOAWAY with `code`, then the server closes the TCP connection."""
    kind, got = conn.wait_error(timeout=3.0)
    check(kind == "goaway", f"{what}: expected GOAWAY {code.name}, got {kind} (frames: {conn.frames()})")
    check(got == code, f"{what}: expected GOAWAY {code.name}, got GOAWAY {code_name(got)} (frames: {conn.frames()})")
    check(conn.wait_closed(2.0), f"{what}: GOAWAY {code.name} sent but the connection stayed open for 2 s"
          f" (frames: {conn.frames()})")
    return f"GOAWAY {code.name}, then closed"


def expect_stream_error(conn, stream_id, codes, what, then_usable=True):
    """RFC 9113 §5.4.2: RST_STREAM with one of `codes` (GOAWAY with it is accepted as escalation).

    With `then_usable`, a following GET /json on the same connection must still get 200 when the
    server answered with RST_STREAM (a stream error leaves the connection open).
    """
    names = "/".join(c.name for c in codes)
    kind, got = conn.wait_error(stream_id, timeout=3.0)
    check(kind in ("rst", "goaway"), f"{what}: expected RST_STREAM {names}, got {kind} (frames: {conn.frames()})")
    check(got in codes, f"{what}: expected {names}, got {kind.upper()} {code_name(got)} (frames: {conn.frames()})")
    if kind == "goaway":
        check(conn.wait_closed(2.0), f"{what}: GOAWAY {code_name(got)} sent but the connection stayed open for 2 s"
              f" (frames: {conn.frames()})")
        return f"GOAWAY {code_name(got)} (stream error escalated to connection error), then closed"
    if then_usable:
        probe = conn.response(conn.get("/json"))
        check(probe.status == 200, f"{what}: RST_STREAM {code_name(got)}, but the connection then failed: {probe}"
              f" (frames: {conn.frames()})")
        return f"RST_STREAM {code_name(got)}; the connection still serves requests"
    return f"RST_STREAM {code_name(got)}"


def expect_malformed(target, headers, what, body=None):
    """RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    conn.send_frame(HEADERS, END_HEADERS | (0 if body else END_STREAM), stream_id, conn.block(headers))
    if body:
        conn.send_frame(DATA, END_STREAM, stream_id, body)
    return expect_stream_error(conn, stream_id, [ErrorCodes.PROTOCOL_ERROR], what)


class H2Client:
    """A client on the `h2` library: well-formed requests, strict validation of all it receives."""

    def __init__(self, target, local_settings=None, auto_window=True):
        self.target = target
        self.sock = target.connect()
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        if local_settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=local_settings)
        self.conn.initiate_connection()
        self.auto_window = auto_window
        self.responses = {}
        self.window_updates = {}
        self.events = []
        self.data_log = []  # (stream id, flow-controlled length) per DATA frame
        self.acked = False
        self.terminated = None
        self.closed = False
        self.flush()
        self.wait(lambda: self.acked, 5, "the SETTINGS ACK")

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _readable(self, timeout):
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        return bool(select.select([self.sock], [], [], max(0.0, timeout))[0])

    def pump(self, timeout):
        """Read what arrives within `timeout` s and feed it to h2; returns the events."""
        if self.closed or not self._readable(timeout):
            return []
        self.sock.settimeout(5)
        try:
            data = self.sock.recv(1 << 16)
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        for event in events:
            self._on(event)
        self.flush()
        return events

    def _on(self, event):
        self.events.append(event)
        response = self.responses.get(getattr(event, "stream_id", None))
        if isinstance(event, h2.events.ResponseReceived):
            response.headers = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            response.body += event.data
            self.data_log.append((event.stream_id, event.flow_controlled_length))
            if self.auto_window:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            response.trailers = list(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            response.ended = True
        elif isinstance(event, h2.events.StreamReset):
            if response is not None:
                response.reset = event.error_code
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_updates[event.stream_id] = self.window_updates.get(event.stream_id, 0) + 1
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.acked = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated = event

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            check(not self.closed and self.terminated is None,
                  f"connection ended while waiting for {what}: {self.terminated}")
            check(time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}")
            self.pump(min(0.2, max(0.0, deadline - time.monotonic())))

    def request(self, method, path, headers=(), body=None, end_stream=None):
        """Open a stream; with `body`, send it (END_STREAM after it); `end_stream=False` leaves it open."""
        stream_id = self.conn.get_next_available_stream_id()
        self.responses[stream_id] = Response(stream_id)
        base = [(":method", method), (":scheme", self.target.scheme), (":authority", self.target.authority),
                (":path", path)]
        if end_stream is None:
            end_stream = body is None
        self.conn.send_headers(stream_id, base + list(headers), end_stream=end_stream and body is None)
        self.flush()
        if body is not None:
            self.send_body(stream_id, body)
        return stream_id

    def send_body(self, stream_id, body, timeout=30):
        """Send `body` within the flow-control windows the server grants (RFC 9113 §6.9)."""
        view, sent = memoryview(body), 0
        deadline = time.monotonic() + timeout
        response = self.responses[stream_id]
        while sent < len(body):
            if response.ended or response.reset is not None:
                return sent  # the server answered early (e.g. 413); stop sending
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if window <= 0:
                check(time.monotonic() < deadline, f"no flow-control credit after {sent} bytes ({timeout} s)")
                self.pump(0.2)
                continue
            chunk = view[sent:sent + window]
            self.conn.send_data(stream_id, bytes(chunk))
            sent += len(chunk)
            self.flush()
            self.pump(0)
        self.conn.end_stream(stream_id)
        self.flush()
        return sent

    def response(self, stream_id, timeout=5):
        response = self.responses[stream_id]
        self.wait(lambda: response.ended or response.reset is not None, timeout, f"stream {stream_id}'s response")
        return response

    def get(self, path, timeout=5):
        return self.response(self.request("GET", path), timeout)

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except (h2.exceptions.ProtocolError, OSError):
            pass


# ---------------------------------------------------------------------------------------------
# Connection preface, SETTINGS and PING (RFC 9113 §3.4, §6.5, §6.7)


@suite.case()
def preface_and_settings(target):
    """RFC 9113 §3.4, §6.5: the server's first frame is SETTINGS with the advertised values; our SETTINGS is ACKed."""
    conn = RawConn(target, settings=[(HEADER_TABLE_SIZE, 4096), (ENABLE_PUSH, 0)])
    got = conn.server_settings
    for key, want in EXPECTED_SERVER_SETTINGS.items():
        check(got.get(key) == want,
              f"server SETTINGS {SETTING_NAMES[key]} = {got.get(key)}, expected {want} (all: {got})")
    # A second SETTINGS later in the connection is ACKed too (RFC 9113 §6.5.3).
    conn.settings_acked = False
    conn.send_frame(SETTINGS, 0, 0, settings_payload([(INITIAL_WINDOW_SIZE, 131072)]))
    deadline = time.monotonic() + 3
    while not conn.settings_acked and time.monotonic() < deadline:
        check(conn.next_frame(0.5) is not CLOSED, f"connection closed (frames: {conn.frames()})")
    check(conn.settings_acked, f"a later SETTINGS was not ACKed (frames: {conn.frames()})")
    shown = {SETTING_NAMES.get(k, hex(k)): v for k, v in got.items()}
    return f"server SETTINGS {shown}; both client SETTINGS ACKed"


@suite.case()
def ping_answered(target):
    """RFC 9113 §6.7: a PING is answered with a PING ACK carrying the same 8 octets."""
    conn = RawConn(target)
    conn.send_frame(PING, 0, 0, b"fastapi!")
    while True:
        f = conn.next_frame(3)
        check(f is not None and f is not CLOSED, f"no PING ACK (frames: {conn.frames()})")
        if isinstance(f, PingFrame):
            check("ACK" in f.flags, f"server answered PING without ACK: {describe(f)}")
            check(bytes(f.opaque_data) == b"fastapi!", f"PING ACK payload differs: {describe(f)}")
            return "PING ACK with the same payload"


@suite.case()
def ping_ack_not_answered(target):
    """RFC 9113 §6.7: a PING with ACK set must not be answered."""
    conn = RawConn(target)
    conn.send_frame(PING, ACK, 0, b"unasked!")
    conn.send_frame(PING, 0, 0, b"asked!!!")
    f = conn.next_frame(3)
    while f is not None and f is not CLOSED and not isinstance(f, PingFrame):
        f = conn.next_frame(3)
    check(isinstance(f, PingFrame), f"no PING ACK (frames: {conn.frames()})")
    check(bytes(f.opaque_data) == b"asked!!!", f"server answered the PING ACK: {describe(f)}")
    return "only the PING without ACK was answered"


@suite.case()
def ping_wrong_length(target):
    """RFC 9113 §6.7: a PING whose length is not 8 is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    conn.send_frame(PING, 0, 0, b"123456")
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "6-octet PING")


@suite.case()
def ping_on_stream(target):
    """RFC 9113 §6.7: a PING on a stream other than 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(PING, 0, 1, b"12345678")
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "PING on stream 1")


@suite.case()
def settings_ack_with_payload(target):
    """RFC 9113 §6.5: a SETTINGS ACK with a payload is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, ACK, 0, settings_payload([(INITIAL_WINDOW_SIZE, 65535)]))
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "SETTINGS ACK with payload")


@suite.case()
def settings_on_stream(target):
    """RFC 9113 §6.5: SETTINGS on a stream other than 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, 0, 1, settings_payload([(INITIAL_WINDOW_SIZE, 65535)]))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "SETTINGS on stream 1")


@suite.case()
def settings_bad_length(target):
    """RFC 9113 §6.5: a SETTINGS length that is not a multiple of 6 is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, 0, 0, b"\x00\x03\x00")
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "3-octet SETTINGS")


@suite.case()
def settings_enable_push_invalid(target):
    """RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, 0, 0, settings_payload([(ENABLE_PUSH, 2)]))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "ENABLE_PUSH=2")


@suite.case()
def settings_initial_window_too_large(target):
    """RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, 0, 0, settings_payload([(INITIAL_WINDOW_SIZE, 2**31)]))
    return expect_connection_error(conn, ErrorCodes.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE=2^31")


@suite.case()
def settings_max_frame_size_invalid(target):
    """RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(SETTINGS, 0, 0, settings_payload([(MAX_FRAME_SIZE, 16383)]))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "MAX_FRAME_SIZE=16383")


@suite.case()
def settings_unknown_ignored(target):
    """RFC 9113 §6.5.2: an unknown setting identifier is ignored (the SETTINGS is ACKed)."""
    conn = RawConn(target, settings=[(0xFA1, 7), (0x0A0A, 0)])
    response = conn.response(conn.get("/json"))
    check(response.status == 200, f"after unknown settings: {response} (frames: {conn.frames()})")
    return "ACKed; requests still work"


@suite.case()
def settings_header_table_size_zero(target):
    """RFC 9113 §6.5.2, RFC 7541 §4.2: with SETTINGS_HEADER_TABLE_SIZE 0 the server's HPACK encoder uses no dynamic table."""
    conn = RawConn(target, settings=[(HEADER_TABLE_SIZE, 0)])
    conn.decoder.header_table.maxsize = 0  # an entry the server adds anyway cannot be referenced later
    conn.decoder.max_allowed_table_size = 0  # a size update above 0 raises
    statuses = [conn.response(conn.get(path)).status for path in ("/json", "/plaintext", "/json", "/users/3")]
    check(statuses == [200, 200, 200, 200], f"statuses {statuses} (frames: {conn.frames()})")
    return "4 responses decoded with a zero-size table"


# ---------------------------------------------------------------------------------------------
# Requests and responses (RFC 9113 §8)


@suite.case()
def get_json(target):
    """RFC 9113 §8.1, §8.3.2: GET /json gets 200, application/json and the JSON body."""
    client = H2Client(target)
    response = client.get("/json")
    check(response.status == 200, f"status {response.status}")
    check((response.header("content-type") or "").startswith("application/json"),
          f"content-type {response.header('content-type')}")
    check(response.json() == JSON_BODY, f"body {bytes(response.body)!r}")
    length = response.header("content-length")
    check(length is None or int(length) == len(response.body), f"content-length {length} vs {len(response.body)}")
    return f"200 {response.header('content-type')} {bytes(response.body).decode()}"


@suite.case()
def get_plaintext(target):
    """RFC 9113 §8.1: GET /plaintext gets 200 text/plain "Hello, World!"."""
    client = H2Client(target)
    response = client.get("/plaintext")
    check(response.status == 200, f"status {response.status}")
    check((response.header("content-type") or "").startswith("text/plain"),
          f"content-type {response.header('content-type')}")
    check(bytes(response.body) == b"Hello, World!", f"body {bytes(response.body)!r}")
    return f"200 {response.header('content-type')}"


@suite.case()
def head_has_no_body(target):
    """RFC 9113 §8.1, RFC 9110 §9.3.2: HEAD /json gets the GET's headers and no content."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    conn.send_headers(stream_id, conn.request_headers("HEAD", "/json"))
    response = conn.response(stream_id)
    check(response.status == 200, f"HEAD status {response.status} (frames: {conn.frames()})")
    check(response.ended and not response.body, f"HEAD carried a body: {response} (frames: {conn.frames()})")
    check((response.header("content-type") or "").startswith("application/json"),
          f"content-type {response.header('content-type')}")
    data_frames = [line for line in conn.log if line.startswith(f"DATA({stream_id},")]
    return f"200, no content ({'HEADERS with END_STREAM' if not data_frames else 'empty DATA ' + str(data_frames)})"


@suite.case()
def post_accounts_created(target):
    """RFC 9113 §8.1: POST /accounts with a JSON body in DATA frames gets 201 and the account."""
    client = H2Client(target)
    body = json.dumps(ACCOUNT).encode()
    stream_id = client.request("POST", "/accounts", [("content-type", "application/json"),
                                                      ("content-length", str(len(body)))], body)
    response = client.response(stream_id)
    check(response.status == 201, f"status {response.status}: {bytes(response.body)!r}")
    value = response.json()
    check({k: value.get(k) for k in ACCOUNT} == ACCOUNT, f"body {value}")
    return f"201 {value}"


@suite.case()
def post_accounts_invalid(target):
    """RFC 9113 §8.1: POST /accounts with an invalid body gets 422 with FastAPI-style detail."""
    client = H2Client(target)
    body = json.dumps({"name": "", "email": "not-an-email", "age": -1, "score": 11}).encode()
    response = client.response(client.request("POST", "/accounts", [("content-type", "application/json")], body))
    check(response.status == 422, f"status {response.status}: {bytes(response.body)!r}")
    detail = response.json().get("detail")
    check(isinstance(detail, list) and detail, f"detail {detail!r}")
    for error in detail:
        check({"loc", "msg", "type"} <= set(error), f"error entry without loc/msg/type: {error}")
    locations = {tuple(error["loc"]) for error in detail}
    for field in ("name", "email", "age", "score"):
        check(("body", field) in locations, f"no error at ('body', '{field}'): {sorted(locations)}")
    return f"422 with {len(detail)} errors at {sorted(locations)}"


@suite.case()
def concurrent_streams_interleaved(target):
    """RFC 9113 §5, §5.1.2: several concurrent streams on one connection are answered independently."""
    client = H2Client(target)
    plan = [("/delay?ms=600", b'{"delayed_ms":600}'), ("/json", None), ("/plaintext", b"Hello, World!"),
            ("/users/7", None), ("/stream?count=300", stream_lines(300)), ("/delay?ms=200", b'{"delayed_ms":200}'),
            ("/users/13", None), ("/stream/trailers?count=50", stream_lines(50)), ("/json", None)]
    stream_ids = [client.request("GET", path) for path, _ in plan]
    finished = []
    deadline = time.monotonic() + 6
    while len(finished) < len(stream_ids):
        check(time.monotonic() < deadline, f"only {finished} finished")
        client.pump(0.2)
        finished += [s for s in stream_ids if client.responses[s].ended and s not in finished]
    for stream_id, (path, want) in zip(stream_ids, plan):
        response = client.responses[stream_id]
        check(response.status == 200, f"{path}: status {response.status}")
        if path == "/json":
            check(response.json() == JSON_BODY, f"{path}: {bytes(response.body)!r}")
        elif path.startswith("/users/"):
            user_id = int(path.rsplit("/", 1)[1])
            check(response.json() == {"id": user_id, "name": f"user-{user_id}"}, f"{path}: {bytes(response.body)!r}")
        else:
            check(bytes(response.body) == want, f"{path}: body {bytes(response.body)[:80]!r}")
    check(finished.index(stream_ids[0]) > finished.index(stream_ids[1]),
          f"the 600 ms stream finished before the /json sent after it: {finished}")
    return f"{len(plan)} streams; completion order {finished}"


@suite.case()
def response_trailers(target):
    """RFC 9113 §8.1: trailers arrive in a trailing HEADERS frame with END_STREAM after the DATA."""
    conn = RawConn(target)
    stream_id = conn.get("/stream/trailers?count=40")
    response = conn.response(stream_id)
    check(response.status == 200, f"status {response.status} (frames: {conn.frames()})")
    check(bytes(response.body) == stream_lines(40), f"body {bytes(response.body)[:60]!r}...")
    check(response.trailers is not None, f"no trailing HEADERS (frames: {conn.frames()})")
    trailers = dict(response.trailers)
    check(trailers.get("x-line-count") == "40", f"trailers {response.trailers}")
    check(not any(name.startswith(":") for name in trailers), f"pseudo-header in trailers {response.trailers}")
    ours = [line for line in conn.log if f"({stream_id}," in line]
    check(ours[-1].startswith(f"HEADERS({stream_id},trailers") and "END_STREAM" in ours[-1],
          f"the last frame is not a trailing HEADERS with END_STREAM: {ours[-3:]}")
    # The h2 library validates the same exchange (no pseudo-headers, nothing after END_STREAM).
    client = H2Client(target)
    checked = client.get("/stream/trailers?count=3")
    check(checked.trailers == [("x-line-count", "3")], f"h2 saw trailers {checked.trailers}")
    return f"{len(response.body)} bytes, then {ours[-1]} {response.trailers}"


@suite.case()
def response_trailers_compressed(target):
    """RFC 9113 §8.1, RFC 9110 §6.5: a gzip-compressed streamed response still ends with its trailers."""
    import gzip

    conn = RawConn(target)
    stream_id = conn.get("/stream/trailers?count=40", extra=[("accept-encoding", "gzip")])
    response = conn.response(stream_id)
    check(response.status == 200, f"status {response.status} (frames: {conn.frames()})")
    encoding = response.header("content-encoding")
    body = gzip.decompress(bytes(response.body)) if encoding == "gzip" else bytes(response.body)
    check(body == stream_lines(40), f"body {body[:60]!r}...")
    ours = [line for line in conn.log if f"({stream_id}," in line]
    check(response.trailers is not None and dict(response.trailers).get("x-line-count") == "40",
          f"content-encoding {encoding}: no x-line-count trailer; the stream's frames end with {ours[-3:]}")
    return f"content-encoding {encoding}; trailers {response.trailers}"


@suite.case()
def request_trailers_accepted(target):
    """RFC 9113 §8.1: a request may end with a trailing HEADERS (trailers) after its DATA."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    body = json.dumps(ACCOUNT).encode()
    conn.send_headers(stream_id, conn.request_headers("POST", "/accounts", [("content-type", "application/json")]),
                      end_stream=False)
    conn.send_frame(DATA, 0, stream_id, body)
    conn.send_headers(stream_id, [("x-checksum", "abc")], end_stream=True)
    response = conn.response(stream_id)
    check(response.status == 201, f"{response} (frames: {conn.frames()})")
    return "201 with request trailers"


@suite.case()
def long_path_414(target):
    """Server limit (RFC 9110 §15.5.15): a :path longer than 8192 octets gets 414; 8000 is served."""
    conn = RawConn(target)
    fine = conn.response(conn.get("/json?pad=" + "a" * (8000 - len("/json?pad="))))
    check(fine.status == 200, f"an 8000-octet path got {fine} (frames: {conn.frames()})")
    long = conn.response(conn.get("/json?pad=" + "a" * 8200))
    check(long.status == 414, f"an 8210-octet path got {long} (frames: {conn.frames()})")
    return "8000 → 200, 8210 → 414"


@suite.case(timeout=30)
def request_body_limit_413(target):
    """Server limit (RFC 9110 §15.5.14, RFC 9113 §8.1): a body above 8 MiB gets 413; the connection survives."""
    client = H2Client(target)
    size = 9 << 20
    stream_id = client.request("POST", "/accounts", [("content-type", "application/json"),
                                                     ("content-length", str(size))], end_stream=False)
    sent = client.send_body(stream_id, b" " * size)
    response = client.response(stream_id, timeout=15)
    check(response.status == 413, f"{size}-byte body got {response}")
    after = client.get("/json")
    check(after.status == 200, f"after the 413: {after}")
    return (f"413 {bytes(response.body).decode()} after {sent} of {size} bytes (reset code {response.reset}); "
            f"next request 200")


@suite.case(timeout=30)
def request_body_limit_413_streamed(target):
    """Server limit (RFC 9110 §15.5.14, RFC 9113 §8.1): a body without content-length passing 8 MiB gets 413."""
    client = H2Client(target)
    # Nine 1,000,000-byte files: each part is under the framework's 1 MiB part limit, the whole
    # body (about 9 MB) is over the server's 8 MiB (8,388,608 bytes) body limit.
    part = b"u" * 1_000_000
    body = multipart("h2-limit-b0und", [], [("files", f"part{i}.bin", "application/octet-stream", part)
                                            for i in range(9)])
    stream_id = client.request("POST", "/upload", [("content-type", "multipart/form-data; boundary=h2-limit-b0und")],
                               end_stream=False)
    sent = client.send_body(stream_id, body)
    response = client.response(stream_id, timeout=15)
    check(response.status == 413, f"a {len(body)}-byte body without content-length got {response}")
    check(sent > 8 << 20, f"413 after only {sent} bytes, below the 8 MiB limit: {bytes(response.body)!r}")
    after = client.get("/json")
    check(after.status == 200, f"after the 413: {after}")
    return (f"413 {bytes(response.body).decode()} after {sent} of {len(body)} bytes (reset code "
            f"{response.reset}); next request 200")


# ---------------------------------------------------------------------------------------------
# Header blocks: CONTINUATION and size limits (RFC 9113 §4.3, §6.10, §10.5.1)


def split_block(block, pieces):
    size = -(-len(block) // pieces)
    return [block[i:i + size] for i in range(0, len(block), size)]


def send_header_block(conn, stream_id, fragments, end_stream=True):
    """HEADERS with the first fragment, CONTINUATION with the others (END_HEADERS on the last)."""
    for index, fragment in enumerate(fragments):
        last = index == len(fragments) - 1
        if index == 0:
            conn.send_frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if last else 0), stream_id,
                            fragment)
        else:
            conn.send_frame(CONTINUATION, END_HEADERS if last else 0, stream_id, fragment)


@suite.case()
def continuation_large_header(target):
    """RFC 9113 §6.10: a 30 KB header block split over HEADERS + 2 CONTINUATION frames is served."""
    conn = RawConn(target)
    cookie = "".join(chr(97 + (i * 7) % 26) for i in range(30000))
    headers = conn.request_headers("GET", "/json", [hpack.NeverIndexedHeaderTuple("cookie", cookie)])
    block = conn.block(headers, huffman=False)
    fragments = split_block(block, 3)
    check(len(fragments) == 3 and max(map(len, fragments)) <= 16384, "bad split")
    stream_id = conn.new_stream()
    send_header_block(conn, stream_id, fragments)
    response = conn.response(stream_id)
    check(response.status == 200 and response.json() == JSON_BODY, f"{response} (frames: {conn.frames()})")
    return f"{len(block)}-octet block in frames of {[len(f) for f in fragments]}: 200"


@suite.case()
def continuation_five_frames_accepted(target):
    """Server limit (documented: at most 5 CONTINUATION frames per block): 5 are served."""
    conn = RawConn(target)
    headers = conn.request_headers("GET", "/json", [hpack.NeverIndexedHeaderTuple("x-pad", "p" * 300)])
    fragments = split_block(conn.block(headers, huffman=False), 6)
    check(len(fragments) == 6, f"bad split into {len(fragments)}")
    stream_id = conn.new_stream()
    send_header_block(conn, stream_id, fragments)
    response = conn.response(stream_id)
    check(response.status == 200, f"HEADERS + 5 CONTINUATION got {response} (frames: {conn.frames()})")
    return "HEADERS + 5 CONTINUATION: 200"


@suite.case()
def continuation_flood(target):
    """RFC 9113 §10.5 (CONTINUATION flood): HEADERS + 12 tiny CONTINUATION frames is a connection error."""
    conn = RawConn(target)
    headers = conn.request_headers("GET", "/json", [hpack.NeverIndexedHeaderTuple("x-pad", "p" * 200)])
    fragments = split_block(conn.block(headers, huffman=False), 13)
    check(len(fragments) == 13, f"bad split into {len(fragments)}")
    send_header_block(conn, conn.new_stream(), fragments)
    kind, code = conn.wait_error(timeout=3)
    check(kind == "goaway", f"expected GOAWAY, got {kind} (frames: {conn.frames()})")
    allowed = (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.PROTOCOL_ERROR)
    check(code in allowed, f"GOAWAY {code_name(code)}, expected ENHANCE_YOUR_CALM or PROTOCOL_ERROR")
    check(not any(line.startswith("HEADERS(1,") for line in conn.log), f"the request was answered: {conn.frames()}")
    check(conn.wait_closed(2), f"connection open 2 s after the GOAWAY (frames: {conn.frames()})")
    return f"GOAWAY {code_name(code)}, then closed (frames: {conn.frames()})"


@suite.case()
def header_list_too_large(target):
    """RFC 9113 §6.5.2, §10.5.1: a header list above the advertised 64 KiB MAX_HEADER_LIST_SIZE is refused."""
    conn = RawConn(target)
    extra = [hpack.NeverIndexedHeaderTuple(f"x-big-{i}", "v" * 14000) for i in range(5)]
    block = conn.block(conn.request_headers("GET", "/json", extra), huffman=False)
    fragments = [block[i:i + 16384] for i in range(0, len(block), 16384)]
    stream_id = conn.new_stream()
    send_header_block(conn, stream_id, fragments)
    response = conn.response(stream_id, timeout=3)
    outcome = conn.frames()
    check(response.status != 200, f"a {len(block)}-octet header list was answered 200")
    refused = response.status == 431 or response.reset is not None or any(
        line.startswith("GOAWAY") for line in conn.log)
    check(refused, f"not refused: {response} (frames: {outcome})")
    how = (f"{response.status}" if response.status else
           f"RST_STREAM {code_name(response.reset)}" if response.reset is not None else "GOAWAY")
    if how == "GOAWAY":  # a connection error: the server must also close the connection (§5.4.1)
        check(conn.wait_closed(2), f"GOAWAY sent but the connection stayed open for 2 s (frames: {outcome})")
    return f"~{len(block)}-octet header list in {len(fragments)} frames: refused with {how} (frames: {outcome})"


@suite.case()
def too_many_header_fields_431(target):
    """Server limit (RFC 6585 §5): more than 100 header fields gets 431; 90 are served; the connection survives."""
    conn = RawConn(target)
    ninety = conn.response(conn.get("/json", extra=[(f"x-h-{i}", "v") for i in range(90)]))
    check(ninety.status == 200, f"90 fields got {ninety} (frames: {conn.frames()})")
    many = conn.response(conn.get("/json", extra=[(f"x-f-{i}", "v") for i in range(101)]))
    check(many.status == 431, f"101 regular fields (+4 pseudo) got {many} (frames: {conn.frames()})")
    after = conn.response(conn.get("/json"))
    check(after.status == 200, f"after the 431: {after} (frames: {conn.frames()})")
    return "90 fields → 200, 105 fields → 431, then 200"


# ---------------------------------------------------------------------------------------------
# Flow control (RFC 9113 §5.2, §6.9)


@suite.case(timeout=15)
def flow_control_small_window(target):
    """RFC 9113 §5.2, §6.9.2: with INITIAL_WINDOW_SIZE 16 the server never sends more DATA than granted."""
    client = H2Client(target, local_settings={INITIAL_WINDOW_SIZE: 16}, auto_window=False)
    stream_id = client.request("GET", "/stream?count=1000")
    response = client.responses[stream_id]
    granted, checks = 16, []

    def received():
        return sum(length for sid, length in client.data_log if sid == stream_id)

    def settle(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not response.ended:
            client.pump(0.05)
            check(received() <= granted, f"server sent {received()} bytes with only {granted} granted")

    settle(0.6)
    checks.append(received())
    check(response.status == 200, f"no response headers within 0.6 s (status {response.status})")
    for _ in range(5):  # a few small increments
        client.conn.increment_flow_control_window(100, stream_id)
        client.flush()
        granted += 100
        settle(0.3)
        checks.append(received())
    # Then open the stream and connection windows wide and read to the end.
    client.conn.increment_flow_control_window(1 << 20, stream_id)
    client.conn.increment_flow_control_window(1 << 20)
    client.flush()
    granted += 1 << 20
    client.auto_window = True
    client.response(stream_id, timeout=8)
    check(bytes(response.body) == stream_lines(1000), f"body of {len(response.body)} bytes differs")
    frames = len([1 for sid, _ in client.data_log if sid == stream_id])
    return f"received {checks} with grants 16,+100×5 (never above); then all {len(response.body)} bytes in {frames} DATA"


@suite.case(timeout=60)
def flow_control_large_upload(target):
    """RFC 9113 §6.9: a ~3 MB multipart upload (3× the 1 MiB stream window) gets WINDOW_UPDATEs and succeeds.

    Three files of 1,000,000 bytes: the framework caps one multipart part at 1 MiB (413 above).
    """
    client = H2Client(target)
    payload = bytes((i * 31 + 7) % 251 for i in range(1_000_000))
    body = multipart("h2-boundary-7f3a", [("note", "three megabytes")],
                     [("files", f"blob{i}.bin", "application/octet-stream", payload) for i in range(3)])
    stream_id = client.request("POST", "/upload", [("content-type", "multipart/form-data; boundary=h2-boundary-7f3a"),
                                                   ("content-length", str(len(body)))], body)
    response = client.response(stream_id, timeout=30)
    check(response.status == 200, f"status {response.status}: {bytes(response.body)[:200]!r}")
    summary = response.json()
    files = [(f.get("filename"), f.get("size")) for f in summary.get("files") or []]
    check(files == [(f"blob{i}.bin", len(payload)) for i in range(3)], f"summary {summary}")
    check(summary.get("note") == "three megabytes", f"note {summary.get('note')!r}")
    stream_updates = client.window_updates.get(stream_id, 0)
    check(stream_updates > 0, f"no stream WINDOW_UPDATE for a body over the 1 MiB window: {client.window_updates}")
    return (f"{len(body)} bytes uploaded; WINDOW_UPDATEs: stream {stream_updates}, connection "
            f"{client.window_updates.get(0, 0)}; {summary['files']}")


# ---------------------------------------------------------------------------------------------
# Invalid frames (RFC 9113 §4, §5.1, §6)


@suite.case()
def data_on_stream_zero(target):
    """RFC 9113 §6.1: DATA on stream 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(DATA, 0, 0, b"hello")
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "DATA on stream 0")


@suite.case()
def headers_on_stream_zero(target):
    """RFC 9113 §6.2: HEADERS on stream 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(HEADERS, END_HEADERS | END_STREAM, 0, conn.block(conn.request_headers()))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "HEADERS on stream 0")


@suite.case()
def headers_on_even_stream(target):
    """RFC 9113 §5.1.1: a client HEADERS on an even (server-initiated) stream id is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_headers(2, conn.request_headers())
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "HEADERS on stream 2")


@suite.case()
def stream_id_decreasing(target):
    """RFC 9113 §5.1.1: a new stream id lower than one already used is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_headers(5, conn.request_headers())
    conn.send_headers(3, conn.request_headers())
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "HEADERS on 3 after 5")


@suite.case()
def data_frame_too_large(target):
    """RFC 9113 §4.2: a DATA frame above SETTINGS_MAX_FRAME_SIZE (16384) is a FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    conn.send_headers(stream_id, conn.request_headers("POST", "/accounts", [("content-type", "application/json")]),
                      end_stream=False)
    conn.send_frame(DATA, END_STREAM, stream_id, b" " * 16385)
    return expect_stream_error(conn, stream_id, [ErrorCodes.FRAME_SIZE_ERROR], "16385-octet DATA", then_usable=False)


@suite.case()
def headers_frame_too_large(target):
    """RFC 9113 §4.2: a HEADERS frame above SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    headers = conn.request_headers("GET", "/json", [hpack.NeverIndexedHeaderTuple("x-pad", "z" * 17000)])
    conn.send_frame(HEADERS, END_HEADERS | END_STREAM, conn.new_stream(), conn.block(headers, huffman=False))
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "17 KB HEADERS frame")


@suite.case()
def headers_padding_too_long(target):
    """RFC 9113 §6.2: padding as long as the HEADERS payload is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    block = conn.block(conn.request_headers())
    conn.send_frame(HEADERS, END_HEADERS | END_STREAM | PADDED, conn.new_stream(), bytes([len(block) + 1]) + block)
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "HEADERS with padding longer than the payload")


@suite.case()
def data_padding_too_long(target):
    """RFC 9113 §6.1: DATA padding as long as the payload is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    conn.send_headers(stream_id, conn.request_headers("POST", "/accounts", [("content-type", "application/json")]),
                      end_stream=False)
    conn.send_frame(DATA, END_STREAM | PADDED, stream_id, bytes([10]) + b"{}")
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "DATA with padding longer than the payload")


@suite.case()
def data_on_idle_stream(target):
    """RFC 9113 §5.1: DATA on an idle stream is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(DATA, END_STREAM, 1, b"hello")
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "DATA on idle stream 1")


@suite.case()
def rst_stream_on_idle_stream(target):
    """RFC 9113 §6.4: RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(RST_STREAM, 0, 1, struct.pack(">I", ErrorCodes.CANCEL))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "RST_STREAM on idle stream 1")


@suite.case()
def rst_stream_on_stream_zero(target):
    """RFC 9113 §6.4: RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(RST_STREAM, 0, 0, struct.pack(">I", ErrorCodes.CANCEL))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "RST_STREAM on stream 0")


@suite.case()
def rst_stream_bad_length(target):
    """RFC 9113 §6.4: a RST_STREAM whose length is not 4 is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    stream_id = conn.get("/delay?ms=1000")
    conn.send_frame(RST_STREAM, 0, stream_id, b"\x00\x00\x00\x08\x00")
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "5-octet RST_STREAM")


@suite.case()
def window_update_zero_on_stream(target):
    """RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on a stream is a stream error PROTOCOL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.get("/delay?ms=1000")
    conn.send_frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", 0))
    return expect_stream_error(conn, stream_id, [ErrorCodes.PROTOCOL_ERROR], "WINDOW_UPDATE 0 on a stream")


@suite.case()
def window_update_zero_on_connection(target):
    """RFC 9113 §6.9: WINDOW_UPDATE with increment 0 on stream 0 is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "WINDOW_UPDATE 0 on stream 0")


@suite.case()
def window_update_bad_length(target):
    """RFC 9113 §6.9: a WINDOW_UPDATE whose length is not 4 is a connection error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    conn.send_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01")
    return expect_connection_error(conn, ErrorCodes.FRAME_SIZE_ERROR, "3-octet WINDOW_UPDATE")


@suite.case()
def window_overflow_on_connection(target):
    """RFC 9113 §6.9.1: a WINDOW_UPDATE taking the connection window above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_STREAM_ID))
    return expect_connection_error(conn, ErrorCodes.FLOW_CONTROL_ERROR, "connection window 65535 + 2^31-1")


@suite.case()
def window_overflow_on_stream(target):
    """RFC 9113 §6.9.1: a WINDOW_UPDATE taking a stream window above 2^31-1 is a stream error FLOW_CONTROL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.get("/delay?ms=1000")
    conn.send_frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", MAX_STREAM_ID))
    return expect_stream_error(conn, stream_id, [ErrorCodes.FLOW_CONTROL_ERROR], "stream window 65535 + 2^31-1")


@suite.case()
def continuation_without_headers(target):
    """RFC 9113 §6.10: CONTINUATION not preceded by HEADERS without END_HEADERS is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    conn.send_frame(CONTINUATION, END_HEADERS, 1, conn.block(conn.request_headers()))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "CONTINUATION on idle stream 1")


@suite.case()
def frame_inside_header_block(target):
    """RFC 9113 §6.10, §5.5: any other frame between HEADERS and its CONTINUATION is a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    fragments = split_block(conn.block(conn.request_headers()), 2)
    conn.send_frame(HEADERS, END_STREAM, 1, fragments[0])
    conn.send_frame(PING, 0, 0, b"12345678")
    conn.send_frame(CONTINUATION, END_HEADERS, 1, fragments[1])
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "PING inside a header block")


@suite.case()
def push_promise_from_client(target):
    """RFC 9113 §8.4: a server receiving PUSH_PROMISE treats it as a connection error PROTOCOL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.get("/delay?ms=1000")
    conn.send_frame(PUSH_PROMISE, END_HEADERS, stream_id, struct.pack(">I", 2) + conn.block(conn.request_headers()))
    return expect_connection_error(conn, ErrorCodes.PROTOCOL_ERROR, "PUSH_PROMISE from the client")


@suite.case()
def unknown_frame_ignored(target):
    """RFC 9113 §4.1, §5.5: frames of an unknown type are ignored (on stream 0 and on a stream)."""
    conn = RawConn(target)
    conn.send_frame(0xFA, 0xFF, 0, b"unknown extension payload")
    stream_id = conn.new_stream()
    conn.send_frame(0xEB, 0, stream_id, b"before the stream opens")
    conn.send_headers(stream_id, conn.request_headers("GET", "/json"))
    conn.send_frame(0xEB, 0, stream_id, b"on a half-closed stream")
    conn.send_frame(PING, 0, 0, b"afterall")
    response = conn.response(stream_id)
    check(response.status == 200 and response.json() == JSON_BODY, f"{response} (frames: {conn.frames()})")
    check(not any(line.startswith(("GOAWAY", "RST_STREAM")) for line in conn.log), f"error: {conn.frames()}")
    return f"ignored; request served (frames: {conn.frames()})"


@suite.case()
def priority_frame_ignored(target):
    """RFC 9113 §5.3.2, §6.3: PRIORITY frames (on idle, open and closed streams) are accepted and ignored."""
    conn = RawConn(target)
    conn.send_frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 15))
    conn.send_frame(PRIORITY, 0, 9, struct.pack(">IB", 1, 200))  # an idle stream never used
    conn.send_headers(1, conn.request_headers("GET", "/json"))
    first = conn.response(1)
    conn.send_frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 3))  # a closed stream
    conn.send_headers(3, conn.request_headers("GET", "/plaintext"))
    second = conn.response(3)
    check(first.status == 200 and second.status == 200, f"{first} {second} (frames: {conn.frames()})")
    check(not any(line.startswith(("GOAWAY", "RST_STREAM")) for line in conn.log), f"error: {conn.frames()}")
    return "PRIORITY on idle/open/closed streams ignored; requests served"


@suite.case()
def priority_bad_length(target):
    """RFC 9113 §6.3: a PRIORITY frame whose length is not 5 is a stream error FRAME_SIZE_ERROR."""
    conn = RawConn(target)
    conn.send_frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00")
    conn.next_stream = 3
    return expect_stream_error(conn, 1, [ErrorCodes.FRAME_SIZE_ERROR], "4-octet PRIORITY")


@suite.case()
def priority_self_dependency(target):
    """RFC 9113 §5.3.1: a HEADERS whose priority makes the stream depend on itself is a stream error PROTOCOL_ERROR."""
    conn = RawConn(target)
    stream_id = conn.new_stream()
    block = conn.block(conn.request_headers("GET", "/json"))
    conn.send_frame(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, stream_id,
                    struct.pack(">IB", stream_id, 15) + block)
    return expect_stream_error(conn, stream_id, [ErrorCodes.PROTOCOL_ERROR], "HEADERS depending on itself")


@suite.case()
def data_after_end_stream(target):
    """RFC 9113 §5.1: DATA on a half-closed (remote) stream is a stream error STREAM_CLOSED."""
    conn = RawConn(target)
    stream_id = conn.get("/delay?ms=1000")
    conn.send_frame(DATA, END_STREAM, stream_id, b"too late")
    return expect_stream_error(conn, stream_id, [ErrorCodes.STREAM_CLOSED], "DATA after END_STREAM")


# ---------------------------------------------------------------------------------------------
# Malformed requests (RFC 9113 §8.1.1, §8.2, §8.3): stream errors of type PROTOCOL_ERROR


def base_request(target, path="/json", method="GET"):
    return [(":method", method), (":scheme", target.scheme), (":authority", target.authority), (":path", path)]


@suite.case()
def uppercase_header_name(target):
    """RFC 9113 §8.2.1: a field name with uppercase letters makes the request malformed."""
    return expect_malformed(target, base_request(target) + [("X-Upper", "1")], "uppercase field name")


@suite.case()
def connection_specific_header(target):
    """RFC 9113 §8.2.2: a connection-specific field (connection: keep-alive) makes the request malformed."""
    return expect_malformed(target, base_request(target) + [("connection", "keep-alive")], "connection: keep-alive")


@suite.case()
def te_other_than_trailers(target):
    """RFC 9113 §8.2.2: TE with a value other than "trailers" makes the request malformed."""
    return expect_malformed(target, base_request(target) + [("te", "gzip")], "te: gzip")


@suite.case()
def missing_path(target):
    """RFC 9113 §8.3.1: a request without :path is malformed."""
    headers = [h for h in base_request(target) if h[0] != ":path"]
    return expect_malformed(target, headers, "no :path")


@suite.case()
def missing_method(target):
    """RFC 9113 §8.3.1: a request without :method is malformed."""
    headers = [h for h in base_request(target) if h[0] != ":method"]
    return expect_malformed(target, headers, "no :method")


@suite.case()
def missing_scheme(target):
    """RFC 9113 §8.3.1: a request without :scheme is malformed."""
    headers = [h for h in base_request(target) if h[0] != ":scheme"]
    return expect_malformed(target, headers, "no :scheme")


@suite.case()
def empty_path(target):
    """RFC 9113 §8.3.1: an empty :path for an http(s) URI is malformed."""
    return expect_malformed(target, base_request(target, path=""), "empty :path")


@suite.case()
def duplicate_path(target):
    """RFC 9113 §8.3.1: a repeated :path pseudo-header makes the request malformed."""
    return expect_malformed(target, base_request(target) + [(":path", "/plaintext")], "two :path")


@suite.case()
def unknown_pseudo_header(target):
    """RFC 9113 §8.3: an undefined pseudo-header field makes the request malformed."""
    return expect_malformed(target, base_request(target) + [(":foo", "bar")], ":foo")


@suite.case()
def response_pseudo_header_in_request(target):
    """RFC 9113 §8.3: a response pseudo-header (:status) in a request makes it malformed."""
    return expect_malformed(target, base_request(target) + [(":status", "200")], ":status in a request")


@suite.case()
def pseudo_header_after_regular(target):
    """RFC 9113 §8.3: a pseudo-header after a regular field makes the request malformed."""
    headers = base_request(target)
    return expect_malformed(target, headers[:3] + [("x-first", "1"), headers[3]], ":path after a regular field")


@suite.case()
def field_value_with_newline(target):
    """RFC 9113 §8.2.1: a field value containing CR, LF or NUL makes the request malformed."""
    return expect_malformed(target, base_request(target) + [("x-evil", "a\r\nx-injected: 1")], "CRLF in a value")


@suite.case()
def content_length_mismatch(target):
    """RFC 9113 §8.1.1: DATA totalling less than content-length makes the request malformed."""
    headers = base_request(target, "/accounts", "POST") + [("content-type", "application/json"),
                                                          ("content-length", "50")]
    return expect_malformed(target, headers, "content-length 50 with 2 octets of DATA", body=b"{}")


# ---------------------------------------------------------------------------------------------
# Limits and abuse protection (RFC 9113 §5.1.2, §10.5)


@suite.case(timeout=20)
def max_concurrent_streams(target):
    """RFC 9113 §5.1.2: a stream beyond the advertised 100 concurrent streams is refused (REFUSED_STREAM or PROTOCOL_ERROR)."""
    conn = RawConn(target)
    held = [conn.get("/delay?ms=2000") for _ in range(100)]
    extra = conn.get("/json")
    kind, code = conn.wait_error(extra, timeout=1.8)
    if kind != "rst":
        answered = sum(1 for r in conn.collect(held, timeout=3).values() if r.status == 200)
        check(False, f"the 101st stream: expected RST_STREAM, got {kind}; then {answered} of the 100 held "
              f"streams were answered within 3 s; connection {'closed' if conn.closed else 'still open'} "
              f"(frames: {conn.frames()})")
    check(code in (ErrorCodes.REFUSED_STREAM, ErrorCodes.PROTOCOL_ERROR), f"the 101st stream got {code_name(code)}")
    responses = conn.collect(held, timeout=10)
    statuses = {r.status for r in responses.values()}
    check(statuses == {200} and all(r.ended for r in responses.values()), f"held streams ended with {statuses}")
    check(all(r.json() == {"delayed_ms": 2000} for r in responses.values()), "a held stream's body differs")
    after = conn.response(conn.get("/json"))
    check(after.status == 200, f"after the held streams finished: {after}")
    return f"stream {extra} refused with RST_STREAM {code_name(code)}; the 100 held streams got 200; then 200"


@suite.case(timeout=15)
def rapid_reset(target):
    """RFC 9113 §10.5 (rapid reset, CVE-2023-44487): 300 streams opened and cancelled at once → GOAWAY ENHANCE_YOUR_CALM."""
    conn = RawConn(target)
    burst = bytearray()
    for _ in range(300):
        stream_id = conn.new_stream()
        burst += frame(HEADERS, END_HEADERS | END_STREAM, stream_id,
                       conn.block(conn.request_headers("GET", "/delay?ms=1000")))
        burst += frame(RST_STREAM, 0, stream_id, struct.pack(">I", ErrorCodes.CANCEL))
    try:
        conn.send(bytes(burst))
    except (BrokenPipeError, ConnectionResetError):
        pass
    kind, code = conn.wait_error(-1, timeout=5)  # stream -1: only GOAWAY or close ends the wait
    check(kind == "goaway" and code == ErrorCodes.ENHANCE_YOUR_CALM,
          f"expected GOAWAY ENHANCE_YOUR_CALM, got {kind} {code_name(code) if code is not None else ''}"
          f" (frames: {conn.frames()})")
    check(conn.wait_closed(2), f"connection open 2 s after the GOAWAY (frames: {conn.frames()})")
    goaway = next(line for line in conn.log if line.startswith("GOAWAY"))
    return f"{goaway}, then closed"


def flood(target, one_frame, count, what):
    conn = RawConn(target)
    conn.auto_ack = False  # the flooding client reads nothing it would have to answer
    before = len(conn.log)
    try:
        conn.send(one_frame * count)
    except (BrokenPipeError, ConnectionResetError):
        pass
    kind, code = conn.wait_error(-1, timeout=5)
    check(kind in ("goaway", CLOSED), f"{count} {what}: connection still open ({kind}; frames: {conn.frames()})")
    if kind == CLOSED:
        return f"closed without a readable GOAWAY ({conn.close_reason})"
    check(code == ErrorCodes.ENHANCE_YOUR_CALM, f"GOAWAY {code_name(code)}, expected ENHANCE_YOUR_CALM")
    check(conn.wait_closed(2), f"connection open 2 s after the GOAWAY (frames: {conn.frames()})")
    acks = sum(1 for line in conn.log[before:] if "ACK" in line)
    return f"GOAWAY ENHANCE_YOUR_CALM after {acks} ACKs, then closed"


@suite.case(timeout=15)
def ping_flood(target):
    """RFC 9113 §10.5 (control-frame flood): 2000 PINGs → GOAWAY ENHANCE_YOUR_CALM and close."""
    return flood(target, frame(PING, 0, 0, b"floodme!"), 2000, "PINGs")


@suite.case(timeout=15)
def settings_flood(target):
    """RFC 9113 §10.5 (control-frame flood): 2000 SETTINGS → GOAWAY ENHANCE_YOUR_CALM and close."""
    return flood(target, frame(SETTINGS, 0, 0, b""), 2000, "SETTINGS")


@suite.case()
def reset_in_flight_stream(target):
    """RFC 9113 §6.4, §5.4.2: RST_STREAM(CANCEL) from the client ends only that stream; the connection keeps working."""
    conn = RawConn(target)
    cancelled = conn.get("/delay?ms=800")
    time.sleep(0.1)
    conn.send_frame(RST_STREAM, 0, cancelled, struct.pack(">I", ErrorCodes.CANCEL))
    after = conn.response(conn.get("/json"))
    check(after.status == 200 and after.json() == JSON_BODY, f"request after the reset: {after}")
    # After receiving RST_STREAM the server must send no more frames for that stream (§6.4).
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:
        f = conn.next_frame(max(0.0, deadline - time.monotonic()))
        check(f is not CLOSED, f"connection closed (frames: {conn.frames()})")
    late = [line for line in conn.log if f"({cancelled}," in line]
    check(not late, f"server sent frames for the reset stream: {late}")
    check(not any(line.startswith("GOAWAY") for line in conn.log), f"GOAWAY: {conn.frames()}")
    return "cancelled stream stayed silent; next request 200"


@suite.case(timeout=170, slow=True)
def idle_timeout(target):
    """RFC 9113 §9.1, §6.8: a busy connection outlives the 60 s idle timeout; an idle one then gets GOAWAY(NO_ERROR, last stream) and is closed.

    Slow (about 2 minutes): runs only with --slow or --only idle_timeout.
    """
    conn = RawConn(target)
    started = time.monotonic()
    last = None
    while time.monotonic() - started < 70:  # a request every 5 s: never idle for 60 s
        last = conn.get("/json")
        response = conn.response(last)
        check(response.status == 200, f"busy connection failed after {time.monotonic() - started:.1f} s: {response}"
              f" (frames: {conn.frames()})")
        pause_until = time.monotonic() + 5
        while time.monotonic() < pause_until:
            f = conn.next_frame(max(0.0, pause_until - time.monotonic()))
            check(f is not CLOSED and not isinstance(f, GoAwayFrame),
                  f"busy connection ended after {time.monotonic() - started:.1f} s (frames: {conn.frames()})")
    idle_since = time.monotonic()
    kind, code = conn.wait_error(-1, timeout=70)
    waited = time.monotonic() - idle_since
    check(kind == "goaway" and code == ErrorCodes.NO_ERROR, f"after {waited:.1f} s idle: {kind} (frames: {conn.frames()})")
    check(55 <= waited <= 66, f"idle GOAWAY after {waited:.1f} s, expected about 60 s")
    goaway = next(line for line in reversed(conn.log) if line.startswith("GOAWAY"))
    check(goaway.startswith(f"GOAWAY(last={last},"), f"idle {goaway}, but stream {last} was processed")
    check(conn.wait_closed(3), f"not closed after the idle GOAWAY (frames: {conn.frames()})")
    return f"busy for 70 s; then after {waited:.1f} s idle {goaway}, closed"


# ---------------------------------------------------------------------------------------------
# Connection setup variants (cleartext Upgrade, TLS ALPN)


@suite.case(only="cleartext")
def h2c_upgrade(target):
    """RFC 7540 §3.2 (deprecated by RFC 9113 §3.1 but supported): HTTP/1.1 Upgrade: h2c → 101, response on stream 1."""
    sock = target.connect()
    settings = base64.urlsafe_b64encode(settings_payload([(MAX_CONCURRENT_STREAMS, 100)])).rstrip(b"=")
    sock.sendall(b"GET /json HTTP/1.1\r\nHost: " + target.authority.encode() +
                 b"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + settings +
                 b"\r\n\r\n")
    head = b""
    sock.settimeout(3)
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        check(chunk, f"closed before the 101: {head!r}")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    check(head.startswith(b"HTTP/1.1 101"), f"expected 101, got {head[:60]!r}")
    check(b"upgrade: h2c" in head.lower(), f"101 without Upgrade: h2c: {head!r}")
    conn = RawConn(target, sock=sock, initial=rest)
    conn.next_stream = 3
    first = conn.response(1)
    check(first.status == 200 and first.json() == JSON_BODY, f"stream 1: {first} (frames: {conn.frames()})")
    second = conn.response(conn.get("/plaintext"))
    check(second.status == 200 and bytes(second.body) == b"Hello, World!", f"stream 3: {second}")
    return "101 Switching Protocols; stream 1 answered over HTTP/2; stream 3 too"


@suite.case(only="tls")
def tls_alpn_h2(target):
    """RFC 9113 §3.2, §9.2: over TLS 1.2+ ALPN selects "h2" when offered with http/1.1."""
    sock = target.connect(alpn=("h2", "http/1.1"))
    check(sock.selected_alpn_protocol() == "h2", f"ALPN selected {sock.selected_alpn_protocol()!r}")
    check(sock.version() in ("TLSv1.2", "TLSv1.3"), f"TLS version {sock.version()}")
    conn = RawConn(target, sock=sock)
    response = conn.response(conn.get("/json"))
    check(response.status == 200, f"{response}")
    return f"ALPN h2 over {sock.version()} ({sock.cipher()[0]}); GET /json 200"


@suite.case(only="tls")
def tls_alpn_http11(target):
    """RFC 7301: offering only http/1.1 selects it and HTTP/1.1 is served on the same port."""
    sock = target.connect(alpn=("http/1.1",))
    check(sock.selected_alpn_protocol() == "http/1.1", f"ALPN selected {sock.selected_alpn_protocol()!r}")
    sock.sendall(b"GET /json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    reply = b""
    sock.settimeout(3)
    while chunk := sock.recv(4096):
        reply += chunk
    check(reply.startswith(b"HTTP/1.1 200"), f"reply {reply[:60]!r}")
    check(reply.endswith(b'{"message":"Hello, World!"}'), f"reply {reply[-60:]!r}")
    return "ALPN http/1.1: HTTP/1.1 200"


@suite.case(only="tls")
def invalid_preface(target):
    """RFC 9113 §3.4: an invalid connection preface is a connection error PROTOCOL_ERROR (GOAWAY may be omitted)."""
    sock = target.connect(alpn=("h2",))
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0))
    conn = RawConn(target, sock=sock, send_preface=False, handshake=False)
    kind, code = conn.wait_error(-1, timeout=3)
    check(kind in ("goaway", CLOSED), f"connection not closed: {kind} (frames: {conn.frames()})")
    if kind == "goaway":
        check(code == ErrorCodes.PROTOCOL_ERROR, f"GOAWAY {code_name(code)}")
        check(conn.wait_closed(2), f"connection open 2 s after the GOAWAY (frames: {conn.frames()})")
    check(not any(line.startswith("HEADERS") for line in conn.log), "a response was sent")
    return f"closed ({conn.frames()})"


# ---------------------------------------------------------------------------------------------
# Graceful shutdown (RFC 9113 §6.8) — stops the server, so it runs last


@suite.case(timeout=25, last=True)
def graceful_shutdown(target):
    """RFC 9113 §6.8: SIGTERM → GOAWAY(NO_ERROR, 2^31-1) + PING, then GOAWAY(last stream), in-flight streams finish, close."""
    conn = RawConn(target)
    quick = conn.response(conn.get("/json"))
    check(quick.status == 200, f"warm-up request: {quick}")
    in_flight = conn.get("/delay?ms=1500")
    time.sleep(0.2)
    conn.auto_ack = False  # we answer the server's PING ourselves, after opening one more stream
    target.demo.terminate()
    sequence, late, responses = [], None, {}
    first_goaway = second_goaway = None
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        f = conn.next_frame(max(0.0, deadline - time.monotonic()))
        if f is None or f is CLOSED:
            break
        sequence.append(describe(f))
        if isinstance(f, GoAwayFrame):
            check(f.error_code == 0, f"GOAWAY with {code_name(f.error_code)}: {sequence}")
            if first_goaway is None:
                first_goaway = f
            else:
                second_goaway = f
        elif isinstance(f, PingFrame) and "ACK" not in f.flags:
            check(first_goaway is not None, f"PING before the first GOAWAY: {sequence}")
            # A stream started before we acknowledge the PING was in flight: it must be processed.
            late = conn.get("/json")
            conn.send_frame(PING, ACK, 0, bytes(f.opaque_data))
        elif isinstance(f, (HeadersFrame, DataFrame)):
            response = responses.setdefault(f.stream_id, Response(f.stream_id))
            if isinstance(f, HeadersFrame):
                response.headers = f.headers
            else:
                response.body += f.data
            if "END_STREAM" in f.flags:
                response.ended = True
    exit_code = target.demo.wait(12)
    # Every expectation is checked, so a failure lists all that went wrong.
    problems = []

    def expect(condition, message):
        if not condition:
            problems.append(message)

    expect(first_goaway is not None, "no GOAWAY after SIGTERM")
    expect(first_goaway is None or first_goaway.last_stream_id == MAX_STREAM_ID,
           f"first GOAWAY last-stream-id {first_goaway and first_goaway.last_stream_id}, expected 2^31-1")
    expect(late is not None, "no PING after the first GOAWAY")
    expect(second_goaway is not None, "no second GOAWAY")
    if second_goaway is not None:
        expect(second_goaway.last_stream_id >= in_flight,
               f"second GOAWAY last-stream-id {second_goaway.last_stream_id}, but stream {in_flight} was in flight")
    slow = responses.get(in_flight)
    expect(slow is not None and slow.ended and slow.status == 200 and slow.json() == {"delayed_ms": 1500},
           f"in-flight stream {in_flight} not answered in full: {slow}")
    if slow is not None and second_goaway is not None:
        expect(sequence.index(describe(second_goaway)) < next(
            i for i, line in enumerate(sequence) if line.startswith(f"HEADERS({in_flight},")),
            "the in-flight response came before the second GOAWAY")
    if late is not None and second_goaway is not None:
        # The stream opened before our PING ACK is either processed (≤ last-stream-id, answered)
        # or refused with REFUSED_STREAM (not processed, safe to retry) — RFC 9113 §6.8, §8.7.
        late_response = responses.get(late)
        if second_goaway.last_stream_id >= late:
            expect(late_response is not None and late_response.ended and late_response.status == 200,
                   f"stream {late} ≤ last-stream-id {second_goaway.last_stream_id} not answered: {late_response}")
        else:
            expect(f"RST_STREAM({late},REFUSED_STREAM)" in sequence,
                   f"stream {late} above last-stream-id {second_goaway.last_stream_id} neither answered nor refused")
    expect(conn.closed, "connection not closed after the last stream")
    expect(exit_code == 0, f"demo exit status {exit_code}")
    frames = " ".join(sequence) + (" <closed>" if conn.closed else "")
    check(not problems, "; ".join(problems) + f" — frames after SIGTERM: {frames}")
    return f"frames after SIGTERM: {frames}; demo exited 0"


if __name__ == "__main__":
    sys.exit(suite.main())
