"""Server-Sent Events interop client: reads an event stream with `httpx-sse` or `curl -N`.

Usage:
  sse_clients.py --url 'http://127.0.0.1:PORT/events/ticks?count=5&interval_ms=20'
                 --client httpx-sse|curl [--resume-from K] [--reconnect] [--gzip]
                 [--cafile PEM | --insecure] [--timeout SECONDS]

Reads the stream until the server ends the response and collects every event (its type, id,
data) and the first `retry` value. httpx-sse parses with its own decoder; for curl
(`curl -N -s -i --max-time ...`) the raw bytes are parsed here following the HTML
event-stream rules (CR, LF and CRLF line ends, comments, `field: value`, an event is dispatched
on a blank line when it has data), which also counts comment lines such as `: ping`.

`--resume-from K` sends `Last-Event-ID: K` on the first request. `--reconnect` keeps
reconnecting (after the server's retry delay, 100 ms if none) with `Last-Event-ID` set to the
last id received, until the id equals the URL's `count` parameter (10 if absent) — use it with
`close_after` in the URL. `--gzip` sends `Accept-Encoding: gzip` (curl does not decode it, so a
compressed answer shows up as no events); without it curl sends no Accept-Encoding and httpx its
default one.

Prints one JSON line: {"ok", "client", "status", "content_type", "content_encoding",
"cache_control", "content_length", "ids", "events", "data", "retry", "comments",
"connections", "last_event_ids_sent", "times_ms", "error", "elapsed_ms"}: "ids", "events"
and "data" are per event in arrival order, "times_ms" when each event arrived (ms since the
first request), "last_event_ids_sent" the Last-Event-ID of each request (null when none),
"comments" the comment lines seen (null for httpx-sse, whose decoder drops them) and the header
fields are those of the last response. Exit 0 iff every request answered 200 with
text/event-stream (and, with --reconnect, the last id reached `count`); else 1 with the reason
on stderr. The whole run is bounded by --timeout (default 15 s, at most 20 s).
"""

import argparse
import codecs
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

MAX_WAIT = 20.0


class CheckFailed(Exception):
    pass


class Deadline(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class EventStreamParser:
    """The HTML Living Standard's event-stream interpretation, fed with raw bytes."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buffer = ""
        self.first = True
        self.pending_cr = False
        self.data = []
        self.event_type = ""
        self.last_event_id = ""
        self.retry = None
        self.comments = 0

    def feed(self, chunk, final=False):
        """Returns the events completed by `chunk` as (type, id, data) tuples."""
        text = self.decoder.decode(chunk, final)
        if self.first and text:
            if text.startswith("\ufeff"):
                text = text[1:]
            self.first = False
        if self.pending_cr and text:
            if text.startswith("\n"):
                text = text[1:]  # the LF of a CRLF split between two chunks
            self.pending_cr = False
        self.buffer += text
        events = []
        while True:
            positions = [p for p in (self.buffer.find("\r"), self.buffer.find("\n")) if p >= 0]
            if not positions:
                break
            end = min(positions)
            line = self.buffer[:end]
            if self.buffer[end] == "\r":
                if end + 1 < len(self.buffer):
                    skip = 2 if self.buffer[end + 1] == "\n" else 1
                else:
                    skip = 1
                    self.pending_cr = True
            else:
                skip = 1
            self.buffer = self.buffer[end + skip:]
            event = self.line(line)
            if event is not None:
                events.append(event)
        return events

    def line(self, line):
        if line == "":
            if not self.data:
                self.event_type = ""
                return None
            event = (self.event_type or "message", self.last_event_id, "\n".join(self.data))
            self.data = []
            self.event_type = ""
            return event
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self.event_type = value
        elif name == "data":
            self.data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit() and value.isascii():
                self.retry = int(value)
        return None


def target_count(url):
    query = parse_qs(urlsplit(url).query)
    try:
        return int(query.get("count", ["10"])[0])
    except ValueError:
        return 10


class Collector:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.result = {
            "ok": False, "client": args.client, "status": None, "content_type": None, "content_encoding": None,
            "cache_control": None, "content_length": None, "ids": [], "events": [], "data": [], "retry": None,
            "comments": None if args.client == "httpx-sse" else 0, "connections": 0,
            "last_event_ids_sent": [], "times_ms": [], "error": None,
        }
        self.last_id = args.resume_from
        self.retry_ms = None

    def add_event(self, kind, event_id, data):
        self.result["events"].append(kind)
        self.result["ids"].append(event_id)
        self.result["data"].append(data)
        self.result["times_ms"].append(round((time.monotonic() - self.started) * 1000))
        if event_id:
            self.last_id = event_id

    def set_retry(self, value):
        if value is not None:
            self.retry_ms = value
            if self.result["retry"] is None:
                self.result["retry"] = value

    def headers(self):
        headers = {"Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        if self.args.gzip:
            headers["Accept-Encoding"] = "gzip"
        if self.result["connections"] == 0:
            self.started = time.monotonic()  # times_ms count from the first request, not the imports
        self.result["connections"] += 1
        self.result["last_event_ids_sent"].append(self.last_id)
        return headers

    def record_response(self, status, get):
        self.result["status"] = status
        for key, name in (("content_type", "content-type"), ("content_encoding", "content-encoding"),
                          ("cache_control", "cache-control"), ("content_length", "content-length")):
            self.result[key] = get(name)
        check(status == 200, f"the server answered {status}")
        content_type = (self.result["content_type"] or "").split(";")[0].strip().lower()
        check(content_type == "text/event-stream", f"content-type {self.result['content_type']!r}")

    def done(self):
        """Whether to stop reconnecting."""
        if not self.args.reconnect:
            return True
        last = self.result["ids"][-1] if self.result["ids"] else None
        return last is not None and last.isdigit() and int(last) >= target_count(self.args.url)


def run_httpx(collector, args):
    import httpx
    from httpx_sse import connect_sse

    verify = True
    if args.insecure:
        verify = False
    elif args.cafile:
        import ssl
        verify = ssl.create_default_context(cafile=args.cafile)
    with httpx.Client(timeout=httpx.Timeout(args.timeout), verify=verify) as client:
        while True:
            with connect_sse(client, "GET", args.url, headers=collector.headers()) as source:
                response = source.response
                collector.record_response(response.status_code, response.headers.get)
                for sse in source.iter_sse():
                    collector.set_retry(sse.retry)
                    if sse.data == "" and sse.event == "message":
                        continue  # a block with only retry (or id): no event per the HTML rules
                    collector.add_event(sse.event, sse.id, sse.data)
            if collector.done():
                return
            check(collector.result["connections"] < args.max_connections,
                  f"still not at the last event after {collector.result['connections']} connections")
            time.sleep((collector.retry_ms if collector.retry_ms is not None else 100) / 1000)


def split_head(raw):
    """(status, headers dict, rest) once a final (non-1xx) response head is complete, else None."""
    while True:
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = raw[:end].decode("latin-1").split("\r\n")
        raw = raw[end + 4:]
        status = int(lines[0].split()[1])
        if 100 <= status < 200:
            continue
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        return status, headers, raw


def run_curl(collector, args, deadline):
    curl = shutil.which("curl")
    check(curl is not None, "curl is not installed")
    while True:
        remaining = deadline - time.monotonic()
        check(remaining > 0.5, "no time left for another connection")
        command = [curl, "-N", "-s", "-i", "--max-time", f"{remaining:.1f}"]
        for name, value in collector.headers().items():
            command += ["-H", f"{name}: {value}"]
        if args.cafile:
            command += ["--cacert", args.cafile]
        if args.insecure:
            command.append("-k")
        command.append(args.url)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        parser = EventStreamParser()
        head = b""
        in_body = False
        try:
            while True:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise Deadline()
                ready, _, _ = select.select([process.stdout], [], [], wait)
                if not ready:
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not in_body:
                    head += chunk
                    parsed = split_head(head)
                    if parsed is None:
                        if chunk:
                            continue
                        break
                    status, headers, chunk = parsed
                    collector.record_response(status, headers.get)
                    in_body = True
                for kind, event_id, data in parser.feed(chunk, final=not chunk):
                    collector.add_event(kind, event_id, data)
                collector.set_retry(parser.retry)
                if not chunk:
                    break
            code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        collector.result["comments"] += parser.comments
        collector.result["curl_exit"] = code
        if code != 0:
            error = process.stderr.read().decode("utf-8", "replace").strip()
            raise CheckFailed(f"curl exited with {code} {error}".strip())
        check(in_body, "no response from the server")
        if collector.done():
            return
        check(collector.result["connections"] < args.max_connections,
              f"still not at the last event after {collector.result['connections']} connections")
        time.sleep((collector.retry_ms if collector.retry_ms is not None else 100) / 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the event stream URL")
    parser.add_argument("--client", choices=["httpx-sse", "curl"], required=True)
    parser.add_argument("--resume-from", metavar="K", help="send Last-Event-ID: K on the first request")
    parser.add_argument("--reconnect", action="store_true", help="reconnect with Last-Event-ID until id == count")
    parser.add_argument("--max-connections", type=int, default=30, help="give up reconnecting after this many")
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    parser.add_argument("--cafile", help="CA certificate for https://")
    parser.add_argument("--insecure", action="store_true", help="https:// without certificate verification")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole run (at most 20)")
    args = parser.parse_args()
    args.timeout = max(1.0, min(args.timeout, MAX_WAIT))

    collector = Collector(args)
    deadline = time.monotonic() + args.timeout

    def on_alarm(signum, frame):
        raise Deadline()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout + 0.5)
    try:
        if args.client == "httpx-sse":
            run_httpx(collector, args)
        else:
            run_curl(collector, args, deadline)
        collector.result["ok"] = True
    except Deadline:
        collector.result["error"] = f"timed out after {args.timeout:g} s"
    except CheckFailed as failure:
        collector.result["error"] = str(failure)
    except Exception as error:  # the peer library's own exception is the failure to report
        collector.result["error"] = f"{type(error).__name__}: {error}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    collector.result["elapsed_ms"] = round((time.monotonic() - collector.started) * 1000)
    print(json.dumps(collector.result), flush=True)
    if not collector.result["ok"]:
        print(f"FAIL ({args.client}): {collector.result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
