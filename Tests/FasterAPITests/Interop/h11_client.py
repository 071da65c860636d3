"""Drives a live FasterAPI app with h11, a strict sans-IO HTTP/1.1 client, over a raw socket.

Usage: h11_client.py HOST PORT

h11 raises on any protocol violation in what the server sends (bad framing, a body on a HEAD
response, stray bytes between responses, ...). Covers sequential keep-alive cycles, a chunked
request body, Expect: 100-continue, HEAD, a chunked response, a pipelined batch parsed with
start_next_cycle, and Connection: close. Prints a JSON summary; exits non-zero on any failure.
"""

import json
import socket
import sys

import h11

host, port = sys.argv[1], int(sys.argv[2])
summary = {"failures": []}
authority = f"{host}:{port}"


def check(condition, message):
    if not condition:
        summary["failures"].append(message)


def request(method, target, extra=(), body=None, chunked=False):
    headers = [("Host", authority)] + list(extra)
    if body is not None and not chunked:
        headers.append(("Content-Length", str(len(body))))
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    return h11.Request(method=method, target=target, headers=headers)


def send_message(conn, sock, req, body=None, pieces=None):
    """Sends a request; `pieces` sends the body as separate (chunked) Data events."""
    out = conn.send(req)
    if pieces is not None:
        for piece in pieces:
            out += conn.send(h11.Data(data=piece))
    elif body is not None:
        out += conn.send(h11.Data(data=body))
    out += conn.send(h11.EndOfMessage())
    if sock is not None:
        sock.sendall(out)
    return out


def receive(conn, sock):
    """Reads one response (after any 1xx) to its end; returns a dict describing it."""
    informational = []
    response = None
    body = b""
    data_events = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
            data_events += 1
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise RuntimeError("server closed before the response ended")
    headers = {name.decode().lower(): value.decode() for name, value in response.headers}
    return {
        "status": response.status_code,
        "http_version": response.http_version.decode(),
        "headers": headers,
        "body": body,
        "data_events": data_events,
        "informational": informational,
    }


def describe(result):
    return {
        "status": result["status"],
        "body": result["body"].decode("latin-1"),
        "content_length": result["headers"].get("content-length"),
        "transfer_encoding": result["headers"].get("transfer-encoding"),
        "connection": result["headers"].get("connection"),
        "informational": result["informational"],
    }


sock = socket.create_connection((host, port), timeout=20)
conn = h11.Connection(our_role=h11.CLIENT)

# 1. Sequential keep-alive cycles on one connection.
sequential = []
send_message(conn, sock, request(b"GET", b"/text"))
sequential.append(describe(receive(conn, sock)))
conn.start_next_cycle()

body = b'{"name":"Grace","numbers":[4,5]}'
send_message(conn, sock, request(b"POST", b"/json-echo", [("Content-Type", "application/json")], body), body=body)
result = receive(conn, sock)
sequential.append(describe(result))
summary["json_post"] = json.loads(result["body"])
conn.start_next_cycle()

send_message(conn, sock, request(b"POST", b"/echo", chunked=True), pieces=[b"chunk-one|", b"chunk-two|", b"three"])
sequential.append(describe(receive(conn, sock)))
conn.start_next_cycle()

send_message(conn, sock, request(b"HEAD", b"/text"))
sequential.append(describe(receive(conn, sock)))
conn.start_next_cycle()

send_message(conn, sock, request(b"GET", b"/stream?count=5&size=3"))
result = receive(conn, sock)
sequential.append(describe(result))
summary["stream_data_events"] = result["data_events"]
conn.start_next_cycle()

# Expect: 100-continue: send the head, wait for the 100, then the body.
expect_body = b"sent after 100 Continue"
sock.sendall(conn.send(request(b"POST", b"/echo", [("Expect", "100-continue")], expect_body)))
summary["waiting_for_100"] = conn.client_is_waiting_for_100_continue
got_100 = False
while True:
    event = conn.next_event()
    if event is h11.NEED_DATA:
        conn.receive_data(sock.recv(65536))
        continue
    if isinstance(event, h11.InformationalResponse) and event.status_code == 100:
        got_100 = True
        break
    raise RuntimeError(f"expected 100 Continue, got {event!r}")
out = conn.send(h11.Data(data=expect_body)) + conn.send(h11.EndOfMessage())
sock.sendall(out)
result = receive(conn, sock)
result["informational"] = [100] if got_100 else []
sequential.append(describe(result))
conn.start_next_cycle()

summary["sequential"] = sequential

# 2. Pipelined: every request written at once, responses parsed in turn.
pipeline = [
    (request(b"GET", b"/text"), None),
    (request(b"HEAD", b"/stream?count=2&size=2"), None),
    (request(b"GET", b"/stream?count=3&size=4"), None),
    (request(b"POST", b"/echo", body=b"pipelined body"), b"pipelined body"),
    (request(b"HEAD", b"/text"), None),
    (request(b"GET", b"/json"), None),
]
wire = b"".join(send_message(h11.Connection(our_role=h11.CLIENT), None, req, body) for req, body in pipeline)
sock.sendall(wire)
pipelined = []
for req, body in pipeline:
    send_message(conn, None, req, body)  # advance our state; the bytes already went out
    pipelined.append(describe(receive(conn, sock)))
    conn.start_next_cycle()
summary["pipelined"] = pipelined

# 3. Connection: close ends the connection after the response.
send_message(conn, sock, request(b"GET", b"/text", [("Connection", "close")]))
result = receive(conn, sock)
summary["close"] = describe(result)
check(conn.their_state is h11.MUST_CLOSE, f"server state after close: {conn.their_state}")
closed = False
while True:
    data = sock.recv(65536)
    if data == b"":
        closed = True
        break
    raise RuntimeError(f"bytes after the last response: {data!r}")
conn.receive_data(b"")
summary["server_closed"] = closed and isinstance(conn.next_event(), h11.ConnectionClosed)
sock.close()

check(all(r["status"] == 200 for r in sequential + pipelined), "a response was not 200")
print(json.dumps(summary))
sys.exit(1 if summary["failures"] else 0)
