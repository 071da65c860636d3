"""aioquic's hq-interop client for scripts/bench.sh (quic): fetches one URL into a file.

Usage: hq_get.py https://HOST:PORT/path OUTPUT [--timeout SECONDS]
One connection (ALPN hq-interop, certificate not verified), one bidirectional stream carrying
`GET /path\\r\\n` and FIN; the body is written to OUTPUT as it arrives. Prints one JSON object:
{"alpn", "bytes", "seconds"} (seconds from the connection's start to the stream's end). Exits
non-zero on failure or if SECONDS (default 600) pass. aioquic's defaults otherwise.
"""
import argparse
import asyncio
import json
import ssl
import time
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived, StreamReset


class HQClient(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output = None
        self.stream_id = None
        self.received = 0
        self.done = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived) and event.stream_id == self.stream_id:
            self.output.write(event.data)
            self.received += len(event.data)
            if event.end_stream and not self.done.done():
                self.done.set_result(None)
        elif isinstance(event, StreamReset) and event.stream_id == self.stream_id:
            if not self.done.done():
                self.done.set_exception(RuntimeError(f"stream reset, error {event.error_code}"))
        elif isinstance(event, ConnectionTerminated):
            if not self.done.done():
                self.done.set_exception(RuntimeError(f"connection closed: {event.error_code} {event.reason_phrase}"))
        # Not passed on to QuicConnectionProtocol's stream readers: the body goes to the file.

    async def get(self, path: str, output) -> None:
        self.output = output
        self.stream_id = self._quic.get_next_available_stream_id()
        self._quic.send_stream_data(self.stream_id, f"GET {path}\r\n".encode(), end_stream=True)
        self.transmit()
        await self.done


async def main(url: str, output: str) -> dict:
    parts = urlsplit(url)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], verify_mode=ssl.CERT_NONE)
    began = time.monotonic()
    with open(output, "wb") as file:
        async with connect(parts.hostname, parts.port or 443, configuration=configuration,
                           create_protocol=HQClient, wait_connected=True) as client:
            await client.get(parts.path or "/", file)
            alpn = client._quic.tls.alpn_negotiated
            received = client.received
    return {"alpn": alpn, "bytes": received, "seconds": round(time.monotonic() - began, 6)}


parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("output")
parser.add_argument("--timeout", type=float, default=600)
args = parser.parse_args()
print(json.dumps(asyncio.run(asyncio.wait_for(main(args.url, args.output), args.timeout))))
