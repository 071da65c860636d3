"""aioquic's server answering hq-interop requests (`GET /path\\r\\n` on a bidirectional stream).

Usage: quic_server.py CERT KEY READY_FILE
Listens on 127.0.0.1 on a free UDP port and writes that port to READY_FILE once it listens; with
QUIC_RETRY=1 every client must first answer a Retry.
Serves /small (b"hello") and /large (300,000 bytes: (i * 7) % 253); with QUIC_BIG_BYTES=N also
/big (N seeded random bytes), whose SHA-256 goes to READY_FILE.sha256 before the port is written.
With QUIC_CIPHER=aes128|aes256|chacha20 the server accepts only that TLS cipher suite.
"""
import asyncio
import hashlib
import os
import random
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived
from aioquic.tls import CipherSuite

SUITES = {
    "aes128": CipherSuite.AES_128_GCM_SHA256,
    "aes256": CipherSuite.AES_256_GCM_SHA384,
    "chacha20": CipherSuite.CHACHA20_POLY1305_SHA256,
}

FILES = {"/small": b"hello", "/large": bytes((i * 7) % 253 for i in range(300_000))}
if os.environ.get("QUIC_BIG_BYTES"):
    FILES["/big"] = random.Random(7).randbytes(int(os.environ["QUIC_BIG_BYTES"]))


class HQInterop(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: dict[int, bytes] = {}

    def quic_event_received(self, event) -> None:
        if not isinstance(event, StreamDataReceived):
            return
        self.requests[event.stream_id] = self.requests.get(event.stream_id, b"") + event.data
        if event.end_stream:
            words = self.requests.pop(event.stream_id).split()
            body = FILES.get(words[1].decode(), b"") if len(words) >= 2 and words[0] == b"GET" else b""
            self._quic.send_stream_data(event.stream_id, body, end_stream=True)
            self.transmit()


async def main(cert: str, key: str, ready: str) -> None:
    configuration = QuicConfiguration(is_client=False, alpn_protocols=["hq-interop"])
    configuration.load_cert_chain(cert, key)
    if os.environ.get("QUIC_CIPHER"):
        configuration.cipher_suites = [SUITES[os.environ["QUIC_CIPHER"]]]
    server = await serve(
        "127.0.0.1", 0, configuration=configuration, create_protocol=HQInterop, retry=os.environ.get("QUIC_RETRY") == "1")
    port = server._transport.get_extra_info("sockname")[1]
    if "/big" in FILES:
        with open(ready + ".sha256", "w") as file:
            file.write(hashlib.sha256(FILES["/big"]).hexdigest())
    with open(ready, "w") as file:
        file.write(str(port))
    await asyncio.Future()


asyncio.run(main(*sys.argv[1:4]))
