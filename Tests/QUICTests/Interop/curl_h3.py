"""curl (curl_cffi's libcurl with ngtcp2 + nghttp3) asking our server for a page over HTTP/3.

Usage: curl_h3.py HOST PORT
Our endpoint does not serve HTTP/3 yet: it completes the handshake with ALPN h3, then closes the
connection with application error 0x100 (H3_NO_ERROR). The request fails, and this script tells
that clean close apart from a failed handshake. curl's error names neither (it says error 56,
"Failure when receiving data from the peer" or "ngtcp2_conn_writev_stream returned error:
ERR_DRAINING"), so the peer's CONNECTION_CLOSE is read from the qlog that libcurl writes when
QLOGDIR is set. curl offers only ALPN h3 and reports it once connected; a server that does not
agree to h3 fails the handshake (TLS alert 120, no_application_protocol: curl error 7).

Prints one JSON object:
  handshake       curl established the QUIC connection (CURLINFO_APPCONNECT_TIME > 0)
  handshake_done  a HANDSHAKE_DONE frame arrived
  alpn            "h3" when curl went on to use HTTP/3 over the connection, else null
  tls             curl's "TLSv1.3 / <cipher suite>"
  error           {"code", "message"} of curl's failure, or null
  close           the peer's CONNECTION_CLOSE: {"space": "application" | "transport", "code", "packet"}, or null
  trace           curl's HTTP/3 trace lines that explain a failure (connect error, TLS alert, ...)
Exits 0 only for a completed h3 handshake followed by the peer's application close 0x100 that
curl sees as a receive/send error after connecting (55 or 56), not as a connect or TLS one.
"""
import ctypes
import json
import os
import shutil
import sys
import tempfile

import curl_cffi._wrapper
from curl_cffi import Curl, CurlError, CurlHttpVersion, CurlInfo, CurlOpt

H3_NO_ERROR = 0x100
CURLINFO_TEXT = 0


def peer_frames(directory: str) -> list[dict]:
    """Frames in the packets curl received, from the qlog files (JSON text sequences) in `directory`."""
    frames = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as file:
            records = file.read().split("\x1e")
        for record in records:
            if not record.strip():
                continue
            event = json.loads(record)
            if event.get("name") == "transport:packet_received":
                packet = event["data"].get("header", {}).get("packet_type")
                frames += [dict(frame, packet=packet) for frame in event["data"].get("frames", [])]
    return frames


def main(host: str, port: int) -> int:
    qlogs = tempfile.mkdtemp(prefix="curl-h3-qlog-")
    os.environ["QLOGDIR"] = qlogs  # read by libcurl when it opens a QUIC connection
    try:
        # The HTTP/3 filter's trace names a failed connect's cause (e.g. "crypto error, tls alert=120").
        ctypes.CDLL(curl_cffi._wrapper.__file__).curl_global_trace(b"http/3")
    except (OSError, AttributeError):
        pass
    lines: list[str] = []

    def debug(kind: int, data: bytes) -> None:
        if kind == CURLINFO_TEXT:
            lines.append(data.decode(errors="replace").rstrip("\n"))

    curl = Curl()
    curl.setopt(CurlOpt.URL, f"https://{host}:{port}/")
    curl.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V3ONLY)
    curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
    curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
    curl.setopt(CurlOpt.TIMEOUT_MS, 10_000)
    curl.setopt(CurlOpt.VERBOSE, 1)
    curl.setopt(CurlOpt.DEBUGFUNCTION, debug)
    error = None
    try:
        curl.perform()
    except CurlError as failure:
        error = {"code": failure.code, "message": str(failure).split(". See https://")[0]}
    appconnect = curl.getinfo(CurlInfo.APPCONNECT_TIME)
    curl.close()  # closes the connection, and with it the qlog file
    try:
        frames = peer_frames(qlogs)
    finally:
        shutil.rmtree(qlogs, ignore_errors=True)

    closes = [f for f in frames if f.get("frame_type") == "connection_close"]
    close = None
    if closes:
        close = {"space": closes[0].get("error_space"), "code": closes[0].get("error_code"), "packet": closes[0]["packet"]}
    handshake = appconnect > 0
    tls = next((line.split("SSL connection using ", 1)[1] for line in lines if "SSL connection using " in line), None)
    seen = {
        "handshake": handshake,
        "handshake_done": any(f.get("frame_type") == "handshake_done" for f in frames),
        "alpn": "h3" if handshake and any(line.endswith("using HTTP/3") for line in lines) else None,
        "tls": tls.split(" / [")[0] if tls else None,
        "error": error,
        "close": close,
        "trace": [
            line for line in lines
            if any(word in line for word in ("connect error", "crypto error", "refused", "lacks", "QUIC connect to", "version negotiation"))
        ],
    }
    print(json.dumps(seen))
    clean = (
        seen["handshake"] and seen["alpn"] == "h3" and close == {"space": "application", "code": H3_NO_ERROR, "packet": "1RTT"}
        and error is not None and error["code"] in (55, 56)
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
