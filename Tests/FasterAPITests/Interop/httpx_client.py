"""Drives a live FasterAPI app with httpx (HTTP/1.1) and prints a JSON summary.

Usage: httpx_client.py BASE_URL

Covers keep-alive reuse across every exchange, JSON in and out, a streamed (chunked) download
read with iter_bytes, a chunked upload from a generator body, and HEAD. Exits non-zero on any
failure: an httpx error, a protocol error, or a failed check (listed under "failures").
"""

import hashlib
import json
import sys

import httpx

base = sys.argv[1]
summary = {"failures": []}


def check(condition, message):
    if not condition:
        summary["failures"].append(message)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stream_pattern(count: int, size: int) -> bytes:
    # The bytes the server's /stream route writes: piece i is `size` copies of ascii 'a' + i % 26.
    return b"".join(bytes([97 + i % 26]) * size for i in range(count))


def upload_pieces():
    for i in range(64):
        yield (f"{i:04d}" * 1024).encode()  # 4 KiB each, 256 KiB in all


ports = []
with httpx.Client(base_url=base, http1=True, http2=False, timeout=20) as client:
    ports.append(client.get("/peer").text)

    r = client.get("/text")
    r.raise_for_status()
    summary["text"] = {
        "status": r.status_code,
        "body": r.text,
        "content_type": r.headers.get("content-type"),
        "content_length": r.headers.get("content-length"),
        "http_version": r.http_version,
    }

    r = client.get("/json")
    r.raise_for_status()
    summary["json_get"] = {"status": r.status_code, "content_type": r.headers.get("content-type"), "value": r.json()}

    payload = {"name": "Ada", "numbers": [1, 2, 3], "nested": {"ok": True}}
    r = client.post("/json-echo", json=payload)
    r.raise_for_status()
    summary["json_post"] = {"status": r.status_code, "value": r.json()}

    r = client.post("/echo", content=b"plain body with \x00 binary \xff bytes")
    r.raise_for_status()
    summary["echo_fixed"] = {
        "status": r.status_code,
        "matches": r.content == b"plain body with \x00 binary \xff bytes",
        "framing": r.headers.get("x-request-framing"),
    }

    count, size = 64, 32 * 1024
    with client.stream("GET", f"/stream?count={count}&size={size}") as r:
        pieces = 0
        hasher = hashlib.sha256()
        total = 0
        for piece in r.iter_bytes():
            pieces += 1
            total += len(piece)
            hasher.update(piece)
        summary["stream"] = {
            "status": r.status_code,
            "transfer_encoding": r.headers.get("transfer-encoding"),
            "content_length": r.headers.get("content-length"),
            "bytes": total,
            "sha_matches": hasher.hexdigest() == sha256(stream_pattern(count, size)),
            "pieces_seen": pieces,
        }

    expected_upload = b"".join(upload_pieces())
    r = client.post("/echo", content=upload_pieces())
    r.raise_for_status()
    summary["chunked_upload"] = {
        "status": r.status_code,
        "framing": r.headers.get("x-request-framing"),
        "bytes": len(r.content),
        "sha_matches": sha256(r.content) == sha256(expected_upload),
    }

    r = client.head("/text")
    summary["head"] = {
        "status": r.status_code,
        "content_length": r.headers.get("content-length"),
        "body_bytes": len(r.content),
    }

    r = client.get("/missing")
    summary["not_found"] = {"status": r.status_code, "content_type": r.headers.get("content-type")}

    ports.append(client.get("/peer").text)

summary["peer_ports"] = ports
check(len(set(ports)) == 1, f"connection not reused: {ports}")
check(summary["stream"]["sha_matches"], "streamed body differs")
check(summary["chunked_upload"]["sha_matches"], "uploaded body differs")

print(json.dumps(summary))
sys.exit(1 if summary["failures"] else 0)
