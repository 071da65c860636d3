"""aioquic's client completing a QUIC handshake with our server.

Usage: quic_client.py HOST PORT CIPHER   (CIPHER: aes128 | aes256 | chacha20)
Prints one JSON object: the negotiated ALPN and TLS cipher suite; exits non-zero on failure.
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration
from aioquic.tls import CipherSuite

SUITES = {
    "aes128": CipherSuite.AES_128_GCM_SHA256,
    "aes256": CipherSuite.AES_256_GCM_SHA384,
    "chacha20": CipherSuite.CHACHA20_POLY1305_SHA256,
}


async def main(host: str, port: int, cipher: str) -> None:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], verify_mode=ssl.CERT_NONE)
    configuration.cipher_suites = [SUITES[cipher]]
    async with connect(host, port, configuration=configuration, wait_connected=True) as client:
        await asyncio.wait_for(client.ping(), 5)
        tls = client._quic.tls
        print(json.dumps({"alpn": tls.alpn_negotiated, "cipher": tls.key_schedule.cipher_suite.name}))


asyncio.run(asyncio.wait_for(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]), 10))
