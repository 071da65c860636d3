"""aioquic's client completing a QUIC handshake with our server.

Usage: quic_client.py HOST PORT CIPHER [PATH...]   (CIPHER: aes128 | aes256 | chacha20)
With QUIC_VERSION2_FIRST=1 the client starts with QUIC version 2, which our server answers with
Version Negotiation; with QUIC_KEY_UPDATE=1 it updates its keys before fetching; with
QUIC_CHANGE_CID=1 it moves to another of the server's connection IDs before fetching; it gives up
after QUIC_TIMEOUT seconds (20). Each PATH is fetched hq-interop style (`GET PATH\r\n` on its own bidirectional stream, all at
once). Prints one JSON object: the negotiated ALPN and TLS cipher suite, and each path's length
and SHA-256; exits non-zero on failure.
"""
import asyncio
import hashlib
import json
import os
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite, Epoch

SUITES = {
    "aes128": CipherSuite.AES_128_GCM_SHA256,
    "aes256": CipherSuite.AES_256_GCM_SHA384,
    "chacha20": CipherSuite.CHACHA20_POLY1305_SHA256,
}


async def fetch(client, path: str) -> dict:
    reader, writer = await client.create_stream()
    writer.write(f"GET {path}\r\n".encode())
    writer.write_eof()
    body = await reader.read()
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


async def main(host: str, port: int, cipher: str, paths: list[str]) -> None:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], verify_mode=ssl.CERT_NONE)
    configuration.cipher_suites = [SUITES[cipher]]
    if os.environ.get("QUIC_VERSION2_FIRST") == "1":
        configuration.original_version = QuicProtocolVersion.VERSION_2
    async with connect(host, port, configuration=configuration, wait_connected=True) as client:
        await asyncio.wait_for(client.ping(), 5)
        if os.environ.get("QUIC_KEY_UPDATE") == "1":
            client._quic.request_key_update()
            await asyncio.wait_for(client.ping(), 5)
        if os.environ.get("QUIC_CHANGE_CID") == "1":
            client.change_connection_id()
            await asyncio.wait_for(client.ping(), 5)
        fetched = await asyncio.gather(*(fetch(client, path) for path in paths))
        tls = client._quic.tls
        print(json.dumps({
            "alpn": tls.alpn_negotiated, "cipher": tls.key_schedule.cipher_suite.name, "fetched": dict(zip(paths, fetched)),
            "version": client._quic._version,
            "key_phase": client._quic._cryptos[Epoch.ONE_RTT].key_phase,
            "peer_cid_sequence": client._quic._peer_cid.sequence_number,
        }))


asyncio.run(asyncio.wait_for(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]), float(os.environ.get("QUIC_TIMEOUT", "20"))))
