#!/usr/bin/env python3
"""Writes the seed corpus of the QUIC fuzz targets: Fuzz/Corpus/<target>/<name>.bin.

FuzzFrames gets packet payloads (every RFC 9000 §19 frame type, then malformed ones),
FuzzPackets gets UDP datagrams (RFC 9001 Appendix A's packets, the other long-header types,
Version Negotiation, coalesced and malformed ones), FuzzTransportParameters gets transport
parameter blocks (RFC 9000 §18). Each folder's .bin files are written anew, so they are exactly
what this script makes; other files there (inputs kept from fuzzer crashes) stay. Needs the
`cryptography` package, for packet protection.

    python3 Fuzz/make_corpus.py
"""

import hashlib
import hmac
import pathlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

CORPUS = pathlib.Path(__file__).resolve().parent / "Corpus"


def varint(value, size=None):
    """A QUIC variable-length integer (RFC 9000 §16), shortest unless `size` is given."""
    size = size or next(n for n in (1, 2, 4, 8) if value < 1 << (8 * n - 2))
    prefix = {1: 0, 2: 1, 4: 2, 8: 3}[size]
    return (value | prefix << (8 * size - 2)).to_bytes(size, "big")


def frame(frame_type, *fields):
    """A frame: its type, then each field (an int becomes a varint, bytes stay bytes)."""
    return varint(frame_type) + b"".join(varint(f) if isinstance(f, int) else f for f in fields)


def sized(data):
    """Bytes behind their varint length."""
    return varint(len(data)) + data


# MARK: - Frames (RFC 9000 §19)

MAX = (1 << 62) - 1
TOKEN16 = bytes(range(16))

FRAMES = {
    "padding": b"\x00" * 12,
    "ping": frame(0x01),
    "ack": frame(0x02, 100, 25, 2, 10, 8, 20, 5, 10),
    "ack-single": frame(0x02, 0, 0, 0, 0),
    "ack-ecn": frame(0x03, 7, 0, 0, 0, 5, 0, 1),
    "reset-stream": frame(0x04, 4, 0x10C, 1 << 20),
    "stop-sending": frame(0x05, 8, 3),
    "crypto": frame(0x06, 0, sized(b"client hello")),
    "new-token": frame(0x07, sized(b"\x01\x02\x03")),
    "stream-08": frame(0x08, 0, b"GET / to the end"),
    "stream-09-fin": frame(0x09, 4, b"last bytes"),
    "stream-0a-len": frame(0x0A, 8, sized(b"with length")),
    "stream-0b-len-fin": frame(0x0B, 12, sized(b"done")),
    "stream-0c-off": frame(0x0C, 16, 70_000, b"at an offset"),
    "stream-0d-off-fin": frame(0x0D, 20, 1 << 40, b"far"),
    "stream-0e-off-len": frame(0x0E, 24, 5, sized(b"mid")),
    "stream-0f-all": frame(0x0F, 3, 9, sized(b"uni")),
    "max-data": frame(0x10, 1 << 30),
    "max-stream-data": frame(0x11, 4, 65536),
    "max-streams-bidi": frame(0x12, 100),
    "max-streams-uni": frame(0x13, 1 << 60),
    "data-blocked": frame(0x14, 9),
    "stream-data-blocked": frame(0x15, 4, 10),
    "streams-blocked-bidi": frame(0x16, 100),
    "streams-blocked-uni": frame(0x17, 1),
    "new-connection-id": frame(0x18, 2, 1, bytes([8]) + bytes(range(1, 9)) + TOKEN16),
    "new-connection-id-20": frame(0x18, 7, 7, bytes([20]) + bytes(range(20)) + TOKEN16),
    "retire-connection-id": frame(0x19, 1),
    "path-challenge": frame(0x1A, b"\x01\x02\x03\x04\x05\x06\x07\x08"),
    "path-response": frame(0x1B, b"\x08\x07\x06\x05\x04\x03\x02\x01"),
    "connection-close": frame(0x1C, 0x0A, 0x08, sized(b"bad stream")),
    "connection-close-app": frame(0x1D, 0x101, sized(b"bye")),
    "connection-close-invalid-utf8": frame(0x1C, 0x07, 0, sized(b"\xff\xfe\xc3")),
    "handshake-done": frame(0x1E),
    # Several frames in one payload, and fields in their longest encodings.
    "several": frame(0x01) + frame(0x02, 3, 0, 0, 3) + frame(0x06, 0, sized(b"hi")) + b"\x00" * 5 + frame(0x1E),
    "varints-8-byte": frame(0x10, MAX) + varint(0x11) + varint(5, 8) + varint(MAX, 8) + frame(0x19, 1 << 32),
    "max-values": frame(0x04, MAX, MAX, MAX) + frame(0x06, MAX - 2, sized(b"ab")) + frame(0x02, MAX, MAX, 0, MAX),
    # Malformed: each must be FRAME_ENCODING_ERROR or PROTOCOL_VIOLATION.
    "bad-empty": b"",
    "bad-unknown-type": frame(0x1F),
    "bad-type-long-encoding": varint(0x01, 2),
    "bad-ack-cut-short": frame(0x02, 100, 25, 2, 10, 8),
    "bad-ack-first-range-below-zero": frame(0x02, 10, 0, 0, 11),
    "bad-ack-gap-below-zero": frame(0x02, 10, 0, 1, 5, 5, 0),
    "bad-ack-range-count": frame(0x02, 10, 0, MAX, 0),
    "bad-stream-length-past-end": frame(0x0B, 0, 5) + b"abc",
    "bad-stream-past-2-62": frame(0x0E, 0, MAX, sized(b"x")),
    "bad-crypto-past-2-62": frame(0x06, MAX, sized(b"x")),
    "bad-new-token-empty": frame(0x07, 0),
    "bad-max-streams-over-2-60": frame(0x12, (1 << 60) + 1),
    "bad-streams-blocked-over-2-60": frame(0x17, (1 << 60) + 1),
    "bad-new-connection-id-empty": frame(0x18, 1, 0, bytes([0]) + TOKEN16),
    "bad-new-connection-id-21": frame(0x18, 1, 0, bytes([21]) + bytes(21) + TOKEN16),
    "bad-retire-prior-to-above-sequence": frame(0x18, 1, 2, bytes([8]) + bytes(8) + TOKEN16),
    "bad-path-challenge-short": frame(0x1A, b"\x01\x02\x03"),
    "bad-connection-close-reason-past-end": frame(0x1C, 1, 0, 10) + b"abc",
    "bad-after-valid": frame(0x01) + frame(0x1F),
    "bad-varint-cut-short": b"\x10\xc0\x00",
}


# MARK: - Packet protection (RFC 9001 §5)


def expand_label(secret, label, length):
    """HKDF-Expand-Label with SHA-256 (RFC 8446 §7.1), empty context."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    output, block, counter = b"", b"", 1
    while len(output) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        output, counter = output + block, counter + 1
    return output[:length]


def packet_keys(secret, key_length=16):
    return {
        "key": expand_label(secret, b"quic key", key_length),
        "iv": expand_label(secret, b"quic iv", 12),
        "hp": expand_label(secret, b"quic hp", key_length),
        "chacha": key_length == 32,
    }


def initial_keys(destination_connection_id):
    """The client's and the server's Initial keys (RFC 9001 §5.2)."""
    salt = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
    initial = hmac.new(salt, destination_connection_id, hashlib.sha256).digest()
    return (
        packet_keys(expand_label(initial, b"client in", 32)),
        packet_keys(expand_label(initial, b"server in", 32)),
    )


def protect(keys, header, packet_number, payload):
    """Seals `payload` behind `header` (unprotected; its packet number last), then masks the header."""
    nonce = bytes(a ^ b for a, b in zip(keys["iv"], packet_number.to_bytes(12, "big")))
    aead = ChaCha20Poly1305(keys["key"]) if keys["chacha"] else AESGCM(keys["key"])
    packet = bytearray(header + aead.encrypt(nonce, payload, header))
    number_length = (header[0] & 0x03) + 1
    number_offset = len(header) - number_length
    sample = bytes(packet[number_offset + 4 : number_offset + 20])
    if keys["chacha"]:
        mask = Cipher(algorithms.ChaCha20(keys["hp"], sample), None).encryptor().update(bytes(5))
    else:
        mask = Cipher(algorithms.AES(keys["hp"]), modes.ECB()).encryptor().update(sample)
    packet[0] ^= mask[0] & (0x0F if header[0] & 0x80 else 0x1F)
    for index in range(number_length):
        packet[number_offset + index] ^= mask[1 + index]
    return bytes(packet)


def long_header(first, destination, source, token=None, packet_number=0, payload_length=0):
    """A version 1 long header up to its packet number (`first`'s low bits: its length - 1)."""
    number_length = (first & 0x03) + 1
    header = bytes([first]) + (1).to_bytes(4, "big") + bytes([len(destination)]) + destination
    header += bytes([len(source)]) + source + (b"" if token is None else sized(token))
    header += varint(number_length + payload_length + 16, 2)
    return header + packet_number.to_bytes(number_length, "big")


def protected_long(first, destination, source, payload, keys, token=None, packet_number=0):
    header = long_header(first, destination, source, token, packet_number, len(payload))
    return protect(keys, header, packet_number, payload)


# RFC 9001 Appendix A: the client's first Initial (A.2), the server's (A.3), a Retry (A.4) and a
# ChaCha20-Poly1305 short-header packet (A.5).
ODCID = bytes.fromhex("8394c8f03e515708")
CLIENT_HELLO_CRYPTO = bytes.fromhex(
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff"
)
SERVER_HELLO_PAYLOAD = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304"
)
CLIENT_KEYS, SERVER_KEYS = initial_keys(ODCID)
CLIENT_INITIAL = protected_long(0xC3, ODCID, b"", CLIENT_HELLO_CRYPTO.ljust(1162, b"\x00"), CLIENT_KEYS, b"", 2)
SERVER_INITIAL = protected_long(0xC1, b"", bytes.fromhex("f067a5502a4262b5"), SERVER_HELLO_PAYLOAD, SERVER_KEYS, b"", 1)
RETRY_HEADER = bytes.fromhex("ff000000010008f067a5502a4262b5") + b"token"
RETRY_TAG = AESGCM(bytes.fromhex("be0c690b9f66575a1d766b54e368c84e")).encrypt(
    bytes.fromhex("461599d35d632bf2239825bb"), b"", bytes([len(ODCID)]) + ODCID + RETRY_HEADER
)
RETRY = RETRY_HEADER + RETRY_TAG
ONE_RTT_KEYS = packet_keys(bytes.fromhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"), 32)
SHORT = protect(ONE_RTT_KEYS, bytes.fromhex("4200bff4"), 654_360_564, b"\x01")

# The RFC's own bytes, to show the packets above are its packets.
assert CLIENT_INITIAL.startswith(bytes.fromhex("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d2"))
assert len(CLIENT_INITIAL) == 1200 and len(SERVER_INITIAL) == 135
assert SERVER_INITIAL.startswith(bytes.fromhex("cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"))
assert RETRY_TAG == bytes.fromhex("04a265ba2eff4d829058fb3f0f2496ba")
assert SHORT == bytes.fromhex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb")


# MARK: - Packets (RFC 9000 §17)

CID_A, CID_B = bytes(range(0xA0, 0xA8)), bytes(range(0xB0, 0xB4))
OWN_CLIENT, OWN_SERVER = initial_keys(CID_A)
ping_padded = frame(0x01) + bytes(40)
ack_crypto_close = frame(0x02, 0, 0, 0, 0) + frame(0x06, 0, sized(b"hello")) + frame(0x1C, 0x0A, 0x06, sized(b"no"))
handshake = long_header(0xE1, CID_A, CID_B, payload_length=24) + bytes(range(24 + 16))
zero_rtt = long_header(0xD0, CID_A, CID_B, payload_length=30) + bytes(range(30 + 16))
version_negotiation = bytes([0xC5, 0, 0, 0, 0, len(CID_B)]) + CID_B + bytes([len(CID_A)]) + CID_A
version_negotiation += bytes.fromhex("00000001 1a2a3a4a")

PACKETS = {
    "rfc9001-a2-client-initial": CLIENT_INITIAL,
    "rfc9001-a3-server-initial": SERVER_INITIAL,
    "rfc9001-a4-retry": RETRY,
    "rfc9001-a5-short-header-chacha20": SHORT,
    "initial-ping-padded": protected_long(0xC0, CID_A, CID_B, ping_padded, OWN_CLIENT, b""),
    "initial-with-token": protected_long(0xC1, CID_A, CID_B, ping_padded, OWN_CLIENT, b"a retry token", 7),
    "initial-server-ack-crypto-close": protected_long(0xC2, CID_A, CID_B, ack_crypto_close, OWN_SERVER, b"", 300),
    "handshake": handshake,
    "zero-rtt": zero_rtt,
    "version-negotiation": version_negotiation,
    "unsupported-version": bytes.fromhex("c51a2a3a4a") + bytes([21]) + bytes(21) + bytes([0]) + bytes(30),
    "coalesced-initial-handshake-short": SERVER_INITIAL + handshake + SHORT,
    "initial-then-zero-padding": SERVER_INITIAL + bytes(60),
    "short-header-8-byte-cid": bytes([0x41]) + CID_A + bytes(range(40)),
    # Malformed: the walk stops, or the packet does not open.
    "bad-initial-cut-short": CLIENT_INITIAL[:100],
    "bad-length-past-end": long_header(0xE0, CID_A, CID_B, payload_length=200) + bytes(20),
    "bad-token-length-past-end": bytes.fromhex("c000000001") + sized(CID_A) + b"\x00" + varint(500) + bytes(10),
    "bad-connection-id-21-bytes": bytes.fromhex("c000000001") + bytes([21]) + bytes(21) + bytes(30),
    "bad-fixed-bit-clear": bytes([0x80]) + CLIENT_INITIAL[1:60],
    "bad-retry-without-token": RETRY_HEADER[:-5] + RETRY_TAG,
    "bad-short-header-alone": b"\x40",
    "bad-zero-byte": b"\x00",
    "bad-initial-tampered": CLIENT_INITIAL[:600] + bytes([CLIENT_INITIAL[600] ^ 0x40]) + CLIENT_INITIAL[601:],
    "bad-after-valid": SERVER_INITIAL + b"\x80\x00",
}


# MARK: - Transport parameters (RFC 9000 §18)


def parameter(identifier, value):
    """One parameter: an int value becomes a varint, bytes stay bytes."""
    value = varint(value) if isinstance(value, int) else value
    return varint(identifier) + sized(value)


ISCID = parameter(0x0F, CID_A)
preferred_address = bytes([192, 0, 2, 1]) + (443).to_bytes(2, "big") + bytes(15) + b"\x01" + (443).to_bytes(2, "big")
preferred_address += bytes([len(CID_B)]) + CID_B + TOKEN16
SERVER_BLOCK = b"".join(
    [
        parameter(0x00, ODCID),
        parameter(0x01, 30_000),
        parameter(0x02, TOKEN16),
        parameter(0x03, 1472),
        parameter(0x04, 1 << 20),
        parameter(0x05, 1 << 18),
        parameter(0x06, 1 << 18),
        parameter(0x07, 1 << 16),
        parameter(0x08, 100),
        parameter(0x09, 3),
        parameter(0x0A, 10),
        parameter(0x0B, 50),
        parameter(0x0C, b""),
        parameter(0x0D, preferred_address),
        parameter(0x0E, 8),
        ISCID,
        parameter(0x10, CID_B),
        parameter(31 * 5 + 27, b"grease"),
    ]
)

PARAMETERS = {
    "rfc9001-a2-client": bytes.fromhex(
        "0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff"
    ),
    "server-every-parameter": SERVER_BLOCK,
    "client-minimal": ISCID,
    "client-empty-cid": parameter(0x0F, b""),
    "server-minimal": parameter(0x00, ODCID) + ISCID,
    "client-long-encodings": parameter(0x04, varint(5, 8)) + parameter(0x0E, varint(2, 4)) + ISCID,
    "client-limits": parameter(0x08, 1 << 60) + parameter(0x0A, 20) + parameter(0x0B, (1 << 14) - 1)
    + parameter(0x03, 1200) + ISCID,
    "client-unknown-parameters": parameter(0x20, b"x") + parameter(MAX, b"") + ISCID,
    # Malformed: each must be TRANSPORT_PARAMETER_ERROR.
    "bad-empty": b"",
    "bad-duplicate": ISCID + ISCID,
    "bad-duplicate-unknown": parameter(0x20, b"") + parameter(0x20, b"") + ISCID,
    "bad-client-sends-odcid": parameter(0x00, ODCID) + ISCID,
    "bad-client-sends-reset-token": parameter(0x02, TOKEN16) + ISCID,
    "bad-server-without-odcid": parameter(0x02, TOKEN16) + ISCID,
    "bad-length-past-end": varint(0x04) + varint(9) + b"\x01",
    "bad-cut-short": ISCID + b"\x04",
    "bad-integer-trailing-byte": parameter(0x04, b"\x05\x00") + ISCID,
    "bad-integer-empty": parameter(0x01, b"") + ISCID,
    "bad-max-udp-payload-1199": parameter(0x03, 1199) + ISCID,
    "bad-ack-delay-exponent-21": parameter(0x0A, 21) + ISCID,
    "bad-max-ack-delay-2-14": parameter(0x0B, 1 << 14) + ISCID,
    "bad-max-streams-over-2-60": parameter(0x09, (1 << 60) + 1) + ISCID,
    "bad-active-connection-id-limit-1": parameter(0x0E, 1) + ISCID,
    "bad-reset-token-15-bytes": parameter(0x00, ODCID) + parameter(0x02, bytes(15)) + ISCID,
    "bad-connection-id-21-bytes": parameter(0x0F, bytes(21)),
    "bad-disable-migration-with-value": parameter(0x0C, b"\x01") + ISCID,
    "bad-preferred-address-empty-cid": parameter(0x00, ODCID)
    + parameter(0x0D, preferred_address[:24] + b"\x00" + TOKEN16)
    + ISCID,
    "bad-preferred-address-cut-short": parameter(0x00, ODCID) + parameter(0x0D, preferred_address[:-1]) + ISCID,
}


def write(target, inputs):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    for name, data in inputs.items():
        (folder / f"{name}.bin").write_bytes(data)
    print(f"{target}: {len(inputs)} inputs")


if __name__ == "__main__":
    write("FuzzFrames", FRAMES)
    write("FuzzPackets", PACKETS)
    write("FuzzTransportParameters", PARAMETERS)
