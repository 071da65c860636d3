"""HTTP/2 interop with real clients (httpx, curl, nghttp, h2load) against the FasterAPI demo.

Usage: h2_clients.py --demo PATH/fasterapi-demo [--tls | --cleartext] [--only CASE ...] [--list]

Starts the demo on a free 127.0.0.1 port (see h2_harness.py) and prints one JSON line per case:
{"case": ..., "ok": ..., "detail": ...}; exit status 0 iff all cases pass. With neither --tls nor
--cleartext it runs both: a cleartext demo, then a TLS one (cases in both are named
`name[h2c]` and `name[tls]`).

Cleartext runs httpx with h2c prior knowledge, curl (Upgrade: h2c and prior knowledge), nghttp
(prior knowledge and Upgrade) and h2load over h2c. With --tls: httpx with HTTP/2 over TLS
(verified against the demo's development certificate), curl with ALPN h2 (--cacert), nghttp over
TLS and h2load over TLS.
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpx  # noqa: E402

from h2_harness import Suite, check  # noqa: E402

suite = Suite(__doc__.splitlines()[0], dual=True)

JSON_BODY = {"message": "Hello, World!"}
ACCOUNT = {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36, "score": 9.5, "tags": ["math", "poetry"]}


def stream_lines(count):
    return "".join(f"chunk {i}\n" for i in range(1, count + 1)).encode()


def httpx_client(target, client_type=httpx.Client):
    """httpx speaking only HTTP/2: ALPN h2 over TLS, or h2c prior knowledge in cleartext."""
    if target.tls:
        return client_type(base_url=target.base_url, http2=True, verify=ssl.create_default_context(cafile=target.cert),
                           timeout=20)
    return client_type(base_url=target.base_url, http1=False, http2=True, timeout=20)


def run(command, timeout=30):
    """Run a peer; returns (exit status, stdout, stderr)."""
    binary = shutil.which(command[0])
    check(binary is not None, f"{command[0]} is not installed")
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        check(False, f"{' '.join(command)} timed out after {timeout} s")
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def tail(text, lines=8):
    return " | ".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# httpx (h2 underneath, through httpcore)


@suite.case()
def httpx_get_json(target):
    """GET /json over HTTP/2 (TLS ALPN h2 or h2c prior knowledge): 200, JSON, http_version HTTP/2."""
    with httpx_client(target) as client:
        response = client.get("/json")
        check(response.http_version == "HTTP/2", f"http_version {response.http_version}")
        check(response.status_code == 200, f"status {response.status_code}")
        check(response.headers.get("content-type", "").startswith("application/json"),
              f"content-type {response.headers.get('content-type')}")
        check(response.json() == JSON_BODY, f"body {response.text!r}")
        again = client.get("/plaintext")
        check(again.text == "Hello, World!" and again.http_version == "HTTP/2", f"/plaintext {again.text!r}")
    return f"{response.http_version} {response.status_code} {response.text}; /plaintext on the same client"


@suite.case()
def httpx_post_accounts(target):
    """POST /accounts over HTTP/2: a valid body gets 201, an invalid one 422 with FastAPI-style detail."""
    with httpx_client(target) as client:
        created = client.post("/accounts", json=ACCOUNT)
        check(created.http_version == "HTTP/2", f"http_version {created.http_version}")
        check(created.status_code == 201, f"status {created.status_code}: {created.text}")
        value = created.json()
        check({k: value.get(k) for k in ACCOUNT} == ACCOUNT, f"body {value}")
        invalid = client.post("/accounts", json={"name": "Ada", "email": "nope", "age": 200, "score": 5})
        check(invalid.status_code == 422, f"invalid body: status {invalid.status_code}: {invalid.text}")
        detail = invalid.json().get("detail")
        check(isinstance(detail, list) and all({"loc", "msg", "type"} <= set(e) for e in detail), f"detail {detail}")
        locations = sorted(tuple(e["loc"]) for e in detail)
        check(locations == [("body", "age"), ("body", "email")], f"error locations {locations}")
    return f"201 {value}; 422 at {locations}"


@suite.case()
def httpx_stream(target):
    """GET /stream?count=1000 read as a stream over HTTP/2: every line, in order."""
    with httpx_client(target) as client:
        with client.stream("GET", "/stream?count=1000") as response:
            check(response.http_version == "HTTP/2", f"http_version {response.http_version}")
            check(response.status_code == 200, f"status {response.status_code}")
            pieces, body = 0, bytearray()
            for piece in response.iter_bytes():
                pieces += 1
                body += piece
    check(bytes(body) == stream_lines(1000), f"{len(body)} bytes differ from the 1000 lines")
    return f"{len(body)} bytes in {pieces} pieces"


@suite.case(timeout=30)
def httpx_upload(target):
    """POST /upload multipart (three files, 2.4 MB) over HTTP/2 — beyond the 1 MiB stream window."""
    blob = bytes((i * 7 + 3) % 256 for i in range(800_000))
    files = [("files", (f"part{i}.bin", blob, "application/octet-stream")) for i in range(3)]
    with httpx_client(target) as client:
        response = client.post("/upload", files=files, data={"note": "over h2"})
        check(response.http_version == "HTTP/2", f"http_version {response.http_version}")
        check(response.status_code == 200, f"status {response.status_code}: {response.text[:200]}")
        summary = response.json()
    got = [(f["filename"], f["size"]) for f in summary["files"]]
    check(got == [(f"part{i}.bin", len(blob)) for i in range(3)], f"summary {summary}")
    check(summary.get("note") == "over h2", f"note {summary.get('note')!r}")
    return f"{summary}"


@suite.case()
def httpx_concurrent(target):
    """20 requests in flight at once, multiplexed on one httpx HTTP/2 connection (asyncio)."""
    import asyncio

    paths = [f"/users/{i}" if i % 2 else "/delay?ms=50" for i in range(20)]

    async def send_all():
        async with httpx_client(target, httpx.AsyncClient) as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    responses = asyncio.run(send_all())
    for path, response in zip(paths, responses):
        check(response.status_code == 200 and response.http_version == "HTTP/2", f"{path}: {response}")
        if path.startswith("/users/"):
            user_id = int(path.rsplit("/", 1)[1])
            check(response.json() == {"id": user_id, "name": f"user-{user_id}"}, f"{path}: {response.text}")
    return f"{len(responses)} responses, all HTTP/2 200"


# ---------------------------------------------------------------------------------------------
# curl


@suite.case(only="cleartext")
def curl_h2c_upgrade(target):
    """curl --http2 on http://: HTTP/1.1 Upgrade: h2c → 101, then the response over HTTP/2."""
    code, out, err = run(["curl", "-sS", "-v", "--http2", f"{target.base_url}/json"])
    check(code == 0, f"curl exited {code}: {tail(err)}")
    check(re.search(r"^< HTTP/1.1 101", err, re.M), f"no 101 in curl -v: {tail(err, 20)}")
    check(re.search(r"^< HTTP/2 200", err, re.M), f"no HTTP/2 200 in curl -v: {tail(err, 20)}")
    check(json.loads(out) == JSON_BODY, f"body {out!r}")
    return "101 Switching Protocols, then HTTP/2 200 " + out.strip()


@suite.case(only="cleartext")
def curl_prior_knowledge(target):
    """curl --http2-prior-knowledge: h2c from the first byte; GET and a POST with a JSON body."""
    code, out, err = run(["curl", "-sS", "-v", "--http2-prior-knowledge", f"{target.base_url}/json"])
    check(code == 0, f"curl exited {code}: {tail(err)}")
    check(re.search(r"^< HTTP/2 200", err, re.M), f"no HTTP/2 200: {tail(err, 20)}")
    check("101" not in "".join(line for line in err.splitlines() if line.startswith("< HTTP")), "an Upgrade happened")
    check(json.loads(out) == JSON_BODY, f"body {out!r}")
    code, out, err = run(["curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_code} %{http_version}",
                          "-H", "content-type: application/json", "--data", json.dumps(ACCOUNT),
                          f"{target.base_url}/accounts"])
    check(code == 0, f"curl POST exited {code}: {tail(err)}")
    body, status = out.rsplit("\n", 1)
    check(status == "201 2", f"POST status/version {status!r}: {body}")
    return f"GET HTTP/2 200; POST /accounts {status}"


@suite.case(only="tls")
def curl_alpn_h2(target):
    """curl --http2 --cacert on https://: ALPN selects h2, certificate verified, HTTP/2 200."""
    code, out, err = run(["curl", "-sS", "-v", "--http2", "--cacert", target.cert, f"{target.base_url}/json"])
    check(code == 0, f"curl exited {code}: {tail(err)}")
    check(re.search(r"ALPN.*server accepted h2", err), f"ALPN did not select h2: {tail(err, 25)}")
    check(re.search(r"^< HTTP/2 200", err, re.M), f"no HTTP/2 200: {tail(err, 20)}")
    check(json.loads(out) == JSON_BODY, f"body {out!r}")
    code, out, err = run(["curl", "-sS", "--http2", "--cacert", target.cert, "-w", "\n%{http_code} %{http_version}",
                          f"{target.base_url}/stream/trailers?count=100"])
    body, status = out.rsplit("\n", 1)
    check(code == 0 and status == "200 2" and body.encode() == stream_lines(100), f"/stream/trailers: {status} {err}")
    return "ALPN h2, verified; HTTP/2 200; streamed body with trailers read"


# ---------------------------------------------------------------------------------------------
# nghttp (nghttp2's client, -v logs every frame)


def nghttp_check(target, extra, path="/json"):
    """Run nghttp -nv; the frame log must show a 200 and no error frames.

    (nghttp opens idle streams 3-11 with PRIORITY frames as its dependency anchors, so the
    request goes on stream 13, or on stream 1 after an Upgrade.)
    """
    url = f"{target.base_url}{path}"
    code, out, err = run(["nghttp", "-nv", *extra, url])
    log = out + err
    check(code == 0, f"nghttp exited {code}: {tail(log, 12)}")
    check(re.search(r"recv \(stream_id=\d+\) :status: 200", log), f"no :status 200: {tail(log, 20)}")
    check("[ERROR]" not in log, f"nghttp reported an error: {[l for l in log.splitlines() if 'ERROR' in l]}")
    bad = [line.strip() for line in log.splitlines() if re.search(r"recv (RST_STREAM|GOAWAY) frame", line)]
    check(not bad, f"the server sent error frames: {bad}")
    codes = re.findall(r"error_code=(\w+)", log)
    check(all(c.startswith("NO_ERROR") for c in codes), f"error codes in the log: {codes}")
    frames = len(re.findall(r"\] recv ", log))
    return log, frames


@suite.case(only="cleartext")
def nghttp_prior_knowledge(target):
    """nghttp -nv on http://: h2c prior knowledge, 200, no error frames in the frame log."""
    log, frames = nghttp_check(target, [])
    check("HTTP Upgrade" not in log, "nghttp used Upgrade")
    return f"{frames} frames received, :status 200, no errors"


@suite.case(only="cleartext")
def nghttp_upgrade(target):
    """nghttp -nvu on http://: HTTP/1.1 Upgrade: h2c succeeds, 200, no error frames."""
    log, frames = nghttp_check(target, ["-u"])
    check("HTTP Upgrade success" in log, f"no 'HTTP Upgrade success': {tail(log, 20)}")
    return f"Upgrade success; {frames} frames received, :status 200, no errors"


@suite.case(only="tls")
def nghttp_tls(target):
    """nghttp -nv on https://: ALPN h2, 200, no error frames."""
    log, frames = nghttp_check(target, [])
    check(re.search(r"negotiated protocol: h2$", log, re.M | re.I), f"ALPN: {tail(log, 20)}")
    return f"ALPN h2; {frames} frames received, :status 200, no errors"


@suite.case()
def nghttp_trailers(target):
    """nghttp -nv GET /stream/trailers: the x-line-count trailer follows the body (RFC 9113 §8.1).

    nghttp sends accept-encoding: gzip, deflate, so the demo compresses the streamed body; the
    trailer must still follow it.
    """
    log, frames = nghttp_check(target, [], path="/stream/trailers?count=5")
    encoding = re.search(r"recv \(stream_id=\d+\) content-encoding: (\S+)", log)
    check(re.search(r"recv \(stream_id=\d+\) x-line-count: 5", log),
          f"content-encoding {encoding and encoding.group(1)}: no x-line-count trailer; the log ends "
          f"{tail(log, 10)}")
    return f"content-encoding {encoding and encoding.group(1)}; trailer x-line-count: 5; {frames} frames"


# ---------------------------------------------------------------------------------------------
# h2load


@suite.case(timeout=90)
def h2load_mixed(target):
    """h2load -n 2000 -c 4 -m 10 over h2c or TLS: all 2000 requests succeed with 2xx."""
    code, out, err = run(["h2load", "-n", "2000", "-c", "4", "-m", "10", f"{target.base_url}/json"], timeout=80)
    check(code == 0, f"h2load exited {code}: {tail(out + err)}")
    protocol = re.search(r"Application protocol: (\S+)", out)
    check(protocol and protocol.group(1) == ("h2" if target.tls else "h2c"), f"protocol {protocol and protocol.group(1)}")
    requests = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                         r"(\d+) errored, (\d+) timeout", out)
    check(requests, f"no requests line: {tail(out)}")
    total, started, done, succeeded, failed, errored, timeouts = map(int, requests.groups())
    check((done, succeeded, failed, errored, timeouts) == (2000, 2000, 0, 0, 0), f"h2load: {requests.group(0)}")
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    check(statuses and int(statuses.group(1)) == 2000, f"status codes: {statuses and statuses.group(0)}")
    rate = re.search(r"finished in ([\d.]+\w+), ([\d.]+) req/s", out)
    return f"{protocol.group(1)}: {requests.group(0)}; {statuses.group(0)}; {rate and rate.group(0)}"


if __name__ == "__main__":
    sys.exit(suite.main())
