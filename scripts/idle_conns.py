#!/usr/bin/env python3
"""Open N idle keep-alive connections to 127.0.0.1:PORT and hold them.

Each socket sends one keep-alive `GET /plaintext` and reads the full response,
so the server has really accepted and served it; then all sockets stay open
for HOLD seconds (while scripts/bench.sh reads the server's RSS) and are closed.
Prints nothing; exits non-zero if a connection fails.

Usage: idle_conns.py PORT [N=1000] [HOLD=5] [READY_FILE]
READY_FILE, if given, is created once every connection has been served.
"""

import resource
import selectors
import socket
import sys
import time

REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"


def response_complete(buf: bytes) -> bool:
    """True once `buf` holds a full response with a Content-Length body."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = 0
    for line in buf[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= head_end + 4 + length


def main() -> int:
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    ready_file = sys.argv[4] if len(sys.argv) > 4 else None

    # Make sure we may hold `count` sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))

    sockets = []
    sel = selectors.DefaultSelector()
    pending = {}
    # Connect in small batches so the listen backlog never overflows.
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(REQUEST)
        s.setblocking(False)
        sockets.append(s)
        pending[s] = b""
        sel.register(s, selectors.EVENT_READ)
        if i % 100 == 99 or i == count - 1:
            deadline = time.monotonic() + 10
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return 1  # server closed a connection it should keep
                    pending[key.fileobj] += data
                    if response_complete(pending[key.fileobj]):
                        del pending[key.fileobj]
                        sel.unregister(key.fileobj)
            if pending:
                return 1  # some responses never arrived

    if ready_file:
        open(ready_file, "w").close()
    time.sleep(hold)
    for s in sockets:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
