"""aioquic's HTTP/3 client for scripts/bench.sh (quic): fetches one URL into a file.

Usage: h3_get.py https://HOST:PORT/path OUTPUT [--timeout SECONDS]
One connection (ALPN h3, certificate not verified; SNI is HOST), one request stream (`GET`, no
body) through aioquic's H3Connection; the body's DATA is written to OUTPUT as it arrives. Prints one
JSON object: {"alpn", "status", "bytes", "seconds"} (seconds from the connection's start to the
response's end). Exits non-zero on failure, on a status other than 200, or if SECONDS (default 600)
pass. aioquic's defaults otherwise.
"""
import argparse
import asyncio
import json
import ssl
import time
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset


class H3Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.output = None
        self.stream_id = None
        self.status = None
        self.received = 0
        self.done = asyncio.get_running_loop().create_future()

    def finish(self, error: Exception | None = None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamReset) and event.stream_id == self.stream_id:
            self.finish(RuntimeError(f"stream reset, error {event.error_code}"))
        elif isinstance(event, ConnectionTerminated):
            self.finish(RuntimeError(f"connection closed: {event.error_code} {event.reason_phrase}"))
        for h3_event in self.h3.handle_event(event):
            if getattr(h3_event, "stream_id", None) != self.stream_id:
                continue
            if isinstance(h3_event, HeadersReceived):
                if self.status is None:  # the response's headers, not trailers
                    self.status = int(dict(h3_event.headers).get(b":status", b"0"))
            elif isinstance(h3_event, DataReceived):
                self.output.write(h3_event.data)
                self.received += len(h3_event.data)
            if h3_event.stream_ended:
                self.finish()

    async def get(self, authority: str, path: str, output) -> None:
        self.output = output
        self.stream_id = self._quic.get_next_available_stream_id()
        self.h3.send_headers(self.stream_id, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", authority.encode()),
            (b":path", path.encode()), (b"user-agent", b"aioquic-h3-get"),
        ], end_stream=True)
        self.transmit()
        await self.done


async def main(url: str, output: str) -> dict:
    parts = urlsplit(url)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    began = time.monotonic()
    with open(output, "wb") as file:
        async with connect(parts.hostname, parts.port or 443, configuration=configuration,
                           create_protocol=H3Client, wait_connected=True) as client:
            await client.get(parts.netloc, parts.path or "/", file)
            alpn = client._quic.tls.alpn_negotiated
            status, received = client.status, client.received
    if status != 200:
        raise SystemExit(f"h3_get: status {status}")
    return {"alpn": alpn, "status": status, "bytes": received, "seconds": round(time.monotonic() - began, 6)}


parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("output")
parser.add_argument("--timeout", type=float, default=600)
args = parser.parse_args()
print(json.dumps(asyncio.run(asyncio.wait_for(main(args.url, args.output), args.timeout))))
