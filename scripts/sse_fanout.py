#!/usr/bin/env python3
"""SSE fan-out check for scripts/bench.sh: many idle Server-Sent Events streams and one broadcast.

Opens STREAMS concurrent `GET URL` event streams (HTTP/1.1, one connection each) from this one
process, waits until every stream has its response head (200, text/event-stream), reads the
server's RSS (VmRSS of --pid and its descendants) before and after, then sends one
`POST URL` with the JSON body `{"data": "broadcast NONCE"}` that the server must deliver as one
event to every subscriber (as the event's data: the text, or the whole body), and measures the
time from sending the POST until the last stream has received that event.

Prints one JSON line:
  {"streams": N, "open": n, "rss_mib": .., "rss_delta_mib": .., "broadcast_ms": .., ...}
"broadcast_ms" is null unless every open stream got the event within --broadcast-timeout.
"client_cpu_ms" is this process's own CPU time over the broadcast window: the delivery time
includes it, so it bounds how much of broadcast_ms the client itself accounts for.

Uses raw non-blocking sockets and epoll (no asyncio), so that reading 10,000 events costs the
client as little as Python allows. Every phase is bounded in time.
Exit status: 0 if every stream opened and got the event, 1 otherwise, 2 on bad arguments.
"""

import argparse
import errno
import json
import os
import resource
import select
import socket
import sys
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url", help="event stream URL, e.g. http://127.0.0.1:8080/events/broadcast")
    p.add_argument("--streams", type=int, default=10000, help="concurrent streams (default 10000)")
    p.add_argument("--post-url", help="broadcast URL (default: the stream URL)")
    p.add_argument("--pid", type=int, help="server process whose RSS is read (with its descendants)")
    p.add_argument("--connect-batch", type=int, default=200,
                   help="streams being set up at once (default 200; keeps the server's accept backlog from overflowing)")
    p.add_argument("--open-timeout", type=float, default=60, help="seconds to open every stream (default 60)")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading RSS (default 1)")
    p.add_argument("--broadcast-timeout", type=float, default=10, help="seconds to wait for delivery (default 10)")
    args = p.parse_args()
    if args.streams < 1 or args.connect_batch < 1:
        p.error("--streams and --connect-batch must be positive")
    return args


def split_url(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        sys.exit(f"sse_fanout: only http:// URLs are supported, got {url!r}")
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    return u.hostname, u.port or 80, target, u.netloc


def rss_kib(pid):
    """VmRSS in KiB of pid and all its descendants, or None."""
    if pid is None:
        return None
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo, found = 0, [pid], False
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        found = True
                        break
        except OSError:
            pass
    return total if found else None


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


class Body:
    """Incremental HTTP/1.1 response body decoder: chunked, Content-Length or until close."""

    def __init__(self, headers):
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self.remaining = int(length) if length is not None and not self.chunked else None
        self.buf = b""
        self.chunk_left = 0  # bytes left in the current chunk (chunked)
        self.done = False

    def feed(self, data):
        """Returns the body bytes in data (possibly empty)."""
        if self.done:
            return b""
        if self.remaining is not None:
            data = data[:self.remaining]
            self.remaining -= len(data)
            self.done = self.remaining == 0
            return data
        if not self.chunked:
            return data
        self.buf += data
        out = []
        while True:
            if self.chunk_left > 0:
                take = self.buf[:self.chunk_left]
                out.append(take)
                self.chunk_left -= len(take)
                self.buf = self.buf[len(take):]
                if self.chunk_left > 0:
                    break
                self.chunk_left = -2  # the CRLF after the chunk data
            if self.chunk_left < 0:
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.chunk_left = 0
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            size = int(self.buf[:nl].split(b";")[0].strip() or b"0", 16)
            self.buf = self.buf[nl + 2:]
            if size == 0:
                self.done = True
                break
            self.chunk_left = size
        return b"".join(out)


class EventParser:
    """Incremental SSE parser (WHATWG `text/event-stream`): yields each dispatched event's data."""

    def __init__(self):
        self.buf = b""
        self.data = []

    def feed(self, body):
        self.buf += body
        events = []
        while True:
            # A line ends at CRLF, LF or CR (a CR at the very end may be half of a CRLF).
            i_lf, i_cr = self.buf.find(b"\n"), self.buf.find(b"\r")
            if i_cr >= 0 and (i_lf < 0 or i_cr < i_lf):
                if i_cr == len(self.buf) - 1:
                    break
                end, skip = i_cr, 2 if self.buf[i_cr + 1:i_cr + 2] == b"\n" else 1
            elif i_lf >= 0:
                end, skip = i_lf, 1
            else:
                break
            line, self.buf = self.buf[:end], self.buf[end + skip:]
            if not line:
                if self.data:
                    events.append(b"\n".join(self.data))
                self.data = []
            elif line.startswith(b"data"):
                if line == b"data" or line.startswith(b"data:"):
                    value = line[5:]
                    self.data.append(value[1:] if value.startswith(b" ") else value)
        return events


class Stream:
    __slots__ = ("sock", "fd", "state", "head", "body", "events", "got_at", "error")

    def __init__(self):
        self.sock = None
        self.fd = -1
        self.state = "new"  # new, connecting, head, open, closed
        self.head = b""
        self.body = None
        self.events = EventParser()
        self.got_at = None
        self.error = None


def parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


def main():
    args = parse_args()
    host, port, target, netloc = split_url(args.url)
    post_host, post_port, post_target, post_netloc = split_url(args.post_url or args.url)
    addr = (socket.gethostbyname(host), port)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.streams + 64
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, 65536)) if hard != resource.RLIM_INFINITY else max(want, 65536), hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < want:
        sys.exit(f"sse_fanout: open-file limit {soft} is below {want} (raise it with `ulimit -n`)")

    request = (f"GET {target} HTTP/1.1\r\nHost: {netloc}\r\nAccept: text/event-stream\r\n"
               f"Cache-Control: no-cache\r\nUser-Agent: sse_fanout\r\n\r\n").encode()
    nonce = os.urandom(8).hex()
    # {"data": TEXT}: the event's data holds the nonce whether the server sends TEXT or the whole body.
    payload = json.dumps({"data": f"broadcast {nonce}"}).encode()
    nonce_bytes = nonce.encode()

    ep = select.epoll()
    by_fd = {}
    streams = [Stream() for _ in range(args.streams)]
    errors = {}
    setting_up = [0]  # streams in the connecting or head state

    def fail(s, why):
        errors[why] = errors.get(why, 0) + 1
        s.error = why
        close(s)

    def close(s):
        if s.state in ("connecting", "head"):
            setting_up[0] -= 1
        if s.sock is not None:
            try:
                ep.unregister(s.fd)
            except OSError:
                pass
            by_fd.pop(s.fd, None)
            s.sock.close()
            s.sock = None
        s.state = "closed"

    def start(s):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        s.sock, s.fd, s.state = sock, sock.fileno(), "connecting"
        setting_up[0] += 1
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            fail(s, f"connect: {os.strerror(err)}")
            return
        by_fd[s.fd] = s
        ep.register(s.fd, select.EPOLLOUT | select.EPOLLIN)

    def on_data(s, data, now):
        if s.state == "head":
            s.head += data
            end = s.head.find(b"\r\n\r\n")
            if end < 0:
                if len(s.head) > 16384:
                    fail(s, "response head too long")
                return
            status, headers = parse_head(s.head[:end])
            rest, s.head = s.head[end + 4:], b""
            if status != 200:
                fail(s, f"status {status}")
                return
            if not headers.get("content-type", "").lower().startswith("text/event-stream"):
                fail(s, f"content-type {headers.get('content-type')!r}")
                return
            s.body = Body(headers)
            s.state = "open"
            setting_up[0] -= 1
            data = rest
            if not data:
                return
        if s.state == "open":
            for event in s.events.feed(s.body.feed(data)):
                if s.got_at is None and nonce_bytes in event:
                    s.got_at = now
            if s.body.done:
                fail(s, "stream ended")

    def on_event(fd, ev, now):
        s = by_fd.get(fd)
        if s is None:
            return
        if s.state == "connecting":
            if ev & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
                err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, f"connect: {os.strerror(err)}")
                    return
                try:
                    s.sock.send(request)  # small: fits in a fresh socket's buffer
                except OSError as e:
                    fail(s, f"send: {e.strerror}")
                    return
                s.state = "head"
                ep.modify(fd, select.EPOLLIN)
            return
        while True:
            try:
                data = s.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as e:
                fail(s, f"recv: {e.strerror}")
                return
            if not data:
                fail(s, "connection closed by server")
                return
            on_data(s, data, now)
            if s.state == "closed" or len(data) < 65536:
                return

    def poll(timeout):
        for fd, ev in ep.poll(timeout, 1024):
            on_event(fd, ev, time.monotonic())

    # 1. RSS before, then open every stream, at most --connect-batch being set up at once.
    rss_before = rss_kib(args.pid)
    t_open0 = time.monotonic()
    deadline = t_open0 + args.open_timeout
    next_i = 0
    while time.monotonic() < deadline:
        while next_i < len(streams) and setting_up[0] < args.connect_batch:
            start(streams[next_i])
            next_i += 1
        if next_i == len(streams) and setting_up[0] == 0:
            break
        poll(0.05)
    open_s = time.monotonic() - t_open0
    opened = sum(1 for s in streams if s.state == "open")
    for s in streams:
        if s.state in ("new", "connecting", "head"):
            if s.state == "new":
                errors["not started (open timeout)"] = errors.get("not started (open timeout)", 0) + 1
                s.state = "closed"
            else:
                fail(s, "open timeout")

    # 2. Let the server settle (reading whatever it sends: retry lines, heartbeats), RSS after.
    settle_end = time.monotonic() + args.settle
    while time.monotonic() < settle_end:
        poll(max(0.0, min(0.05, settle_end - time.monotonic())))
    rss_after = rss_kib(args.pid)
    still_open = [s for s in streams if s.state == "open"]

    # 3. Broadcast: POST on its own connection, read in the same loop as the streams. Skipped
    # when no stream is open.
    post_at = None  # when the POST's response head arrived
    post_status = None
    post_body = b""
    post_decoder = None
    post_done = not still_open
    post = None
    post_req = (f"POST {post_target} HTTP/1.1\r\nHost: {post_netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    if still_open:
        try:
            post = socket.create_connection((socket.gethostbyname(post_host), post_port), timeout=5)
            post.sendall(post_req)
            post.setblocking(False)
            ep.register(post.fileno(), select.EPOLLIN)
        except OSError as e:
            errors[f"broadcast POST: {e.strerror}"] = 1
            post_done = True
    post_fd = post.fileno() if post is not None else -1
    post_buf = b""
    bdeadline = t0 + args.broadcast_timeout
    waiting = sum(1 for s in still_open if s.got_at is None)
    while (waiting > 0 or not post_done) and time.monotonic() < bdeadline:
        for fd, ev in ep.poll(min(0.05, max(0.0, bdeadline - time.monotonic())), 1024):
            now = time.monotonic()
            if fd == post_fd:
                try:
                    chunk = post.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if post_decoder is None:
                    post_buf += chunk
                    end = post_buf.find(b"\r\n\r\n")
                    if end >= 0:
                        post_at = now
                        post_status, headers = parse_head(post_buf[:end])
                        post_decoder = Body(headers)
                        chunk = post_buf[end + 4:]
                if post_decoder is not None and chunk:
                    post_body += post_decoder.feed(chunk)
                if not chunk or (post_decoder is not None and post_decoder.done):
                    post_done = True
                    ep.unregister(post_fd)
                    post_fd = -1
                continue
            # Every stream still registered here was open when the broadcast started.
            s = by_fd.get(fd)
            if s is None:
                continue
            had = s.got_at is not None
            on_event(fd, ev, now)
            if not had and (s.got_at is not None or s.state == "closed"):
                waiting -= 1
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if post is not None:
        post.close()
    try:
        delivered = json.loads(post_body).get("delivered") if post_body else None
    except (ValueError, AttributeError):
        delivered = None

    got = [s.got_at - t0 for s in still_open if s.got_at is not None]
    got.sort()
    missing = len(still_open) - len(got)
    complete = missing == 0 and len(got) > 0

    # 4. Close everything; RSS once more after the server has dropped the streams.
    for s in streams:
        close(s)
    ep.close()
    time.sleep(args.settle)
    rss_closed = rss_kib(args.pid)

    def ms(v):
        return None if v is None else round(v * 1000, 1)

    out = {
        "streams": args.streams,
        "open": opened,
        "rss_mib": mib(rss_after),
        "rss_delta_mib": mib(None if rss_after is None or rss_before is None else rss_after - rss_before),
        "broadcast_ms": ms(got[-1]) if complete else None,
        "rss_before_mib": mib(rss_before),
        "rss_after_close_mib": mib(rss_closed),
        "open_s": round(open_s, 2),
        "received": len(got),
        "missing": missing,
        "first_ms": ms(got[0]) if got else None,
        "p50_ms": ms(got[len(got) // 2]) if got else None,
        "p99_ms": ms(got[min(len(got) - 1, int(len(got) * 0.99))]) if got else None,
        "last_ms": ms(got[-1]) if got else None,
        "post_status": post_status,
        "post_ms": ms(post_at - t0) if post_at else None,
        "delivered": delivered,
        "client_cpu_ms": round((cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) * 1000, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }
    print(json.dumps(out), flush=True)
    ok = opened == args.streams and complete and post_status == 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
