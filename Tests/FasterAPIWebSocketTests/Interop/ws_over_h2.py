"""A WebSocket over HTTP/2 (RFC 8441) on Python's `h2`: waits for SETTINGS_ENABLE_CONNECT_PROTOCOL,
opens an extended CONNECT stream (:protocol websocket) in cleartext (prior knowledge) or over TLS
(ALPN h2), exchanges masked frames in DATA, closes, and prints one JSON line."""

import argparse
import json
import os
import socket
import ssl
import struct
import sys
import time
from urllib.parse import urlparse

import h2.config
import h2.connection
import h2.events
import h2.settings


def frame(opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def send(conn, stream_id, data):
    """Sends data in DATA frames no larger than the peer allows."""
    size = conn.max_outbound_frame_size
    for start in range(0, len(data), size):
        conn.send_data(stream_id, data[start:start + size])


def parse_frames(buffer):
    """Unmasked server frames from buffer: (frames, rest)."""
    frames = []
    while len(buffer) >= 2:
        opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                break
            length, offset = struct.unpack("!H", buffer[2:4])[0], 4
        elif length == 127:
            if len(buffer) < 10:
                break
            length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
        if len(buffer) < offset + length:
            break
        frames.append((opcode, buffer[offset:offset + length]))
        buffer = buffer[offset + length:]
    return frames, buffer


def wait_for_end(sock, conn, stream_id, deadline):
    """After the close handshake: how the server ends the stream (END_STREAM is an orderly
    close, RFC 8441 §6; RST_STREAM an abort)."""
    while time.time() < deadline:
        data = sock.recv(65536)
        if not data:
            return "connection closed"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.StreamEnded):
                return "end_stream"
            if isinstance(event, h2.events.StreamReset):
                return f"reset {event.error_code}"
        sock.sendall(conn.data_to_send())
    return "timed out"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="http(s)://host:port/path")
    parser.add_argument("--cafile")
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    url = urlparse(args.url)
    deadline = time.time() + args.timeout
    sock = socket.create_connection((url.hostname, url.port), timeout=args.timeout)
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=args.cafile)
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname=url.hostname)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    result = {"ok": False, "status": None, "echoes": [], "close_code": None, "connect_protocol": False}
    stream_id = None
    pending = b""
    messages = [b"hello over h2", "héllo ✓".encode(), b"x" * 70000]
    sent = 0
    closing = False
    while time.time() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            print(event, file=sys.stderr) if os.environ.get("WS_H2_DEBUG") else None
            if isinstance(event, h2.events.RemoteSettingsChanged):
                setting = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                if setting is not None and setting.new_value == 1 and stream_id is None:
                    result["connect_protocol"] = True
                    stream_id = conn.get_next_available_stream_id()
                    conn.send_headers(stream_id, [
                        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", url.scheme),
                        (":path", url.path or "/"), (":authority", f"{url.hostname}:{url.port}"),
                        ("sec-websocket-version", "13"),
                    ])
            elif isinstance(event, h2.events.ResponseReceived):
                result["status"] = int(dict(event.headers)[b":status"])
                if result["status"] == 200:
                    send(conn, stream_id, frame(0x1, messages[0]))
                    sent = 1
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                frames, pending = parse_frames(pending + event.data)
                for opcode, payload in frames:
                    if opcode == 0x8:
                        result["close_code"] = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                        continue
                    result["echoes"].append(payload.decode())
                    if sent < len(messages):
                        send(conn, stream_id, frame(0x1, messages[sent]))
                        sent += 1
                    elif not closing:
                        closing = True
                        send(conn, stream_id, frame(0x8, struct.pack("!H", 1000)))
            elif isinstance(event, h2.events.StreamEnded):
                result["stream_end"] = "end_stream"
            elif isinstance(event, h2.events.StreamReset):
                result["stream_end"] = f"reset {event.error_code}"
        sock.sendall(conn.data_to_send())
        if result["close_code"] is not None:
            if "stream_end" not in result:
                result["stream_end"] = wait_for_end(sock, conn, stream_id, deadline)
            result["ok"] = (result["echoes"] == [m.decode() for m in messages] and result["close_code"] == 1000
                            and result["stream_end"] == "end_stream")
            print(json.dumps(result))
            return 0 if result["ok"] else 1
    result["error"] = result.get("error") or "timed out or connection closed"
    print(json.dumps(result))
    return 1


if __name__ == "__main__":
    sys.exit(main())
