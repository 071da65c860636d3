"""aioquic's hq-interop server for scripts/bench.sh (quic): serves the files under a folder.

Usage: hq_server.py --port P --root DIR --cert CERT.pem --key KEY.pem [--host 127.0.0.1]
Listens on HOST:P (UDP) with ALPN hq-interop and prints "listening on HOST:P" once it does.
`GET /path\\r\\n` on a bidirectional stream is answered with the file at DIR/path (an empty body if
there is none, or if the path leaves DIR), then FIN. The file is read from disk in 1 MiB chunks as
the peer acknowledges what it has, so at most 8 MiB per stream sit in aioquic's send buffer (read
from aioquic 1.7's QuicStreamSender: the offsets sent but not yet acknowledged). Otherwise aioquic's
defaults (Reno, 1200-byte datagrams, flow-control windows that double as they are used).
"""
import argparse
import asyncio
import os

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived, StreamReset

CHUNK = 1 << 20
WINDOW = 8 << 20


class HQServer(QuicConnectionProtocol):
    root = "."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: dict[int, bytes] = {}
        self.sending: dict[int, object] = {}  # stream id -> open file
        self.answered: set[int] = set()

    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived):
            if event.stream_id in self.answered:
                return  # the rest of a request answered at its line's end
            request = self.requests.get(event.stream_id, b"") + event.data
            if not (event.end_stream or b"\n" in request):
                self.requests[event.stream_id] = request
                return
            self.requests.pop(event.stream_id, None)
            self.answered.add(event.stream_id)
            self.answer(event.stream_id, request)
        elif isinstance(event, StreamReset):
            self.requests.pop(event.stream_id, None)
            file = self.sending.pop(event.stream_id, None)
            if file is not None:
                file.close()
        elif isinstance(event, ConnectionTerminated):
            for file in self.sending.values():
                file.close()
            self.sending.clear()

    def answer(self, stream_id: int, request: bytes) -> None:
        words = request.split()
        path = None
        if len(words) >= 2 and words[0] == b"GET":
            root = os.path.realpath(self.root)
            candidate = os.path.realpath(os.path.join(root, words[1].decode(errors="replace").lstrip("/")))
            if candidate.startswith(root + os.sep) and os.path.isfile(candidate):
                path = candidate
        if path is None:
            self._quic.send_stream_data(stream_id, b"", end_stream=True)
        else:
            self.sending[stream_id] = open(path, "rb")
            self.pump()
        self.transmit()

    def pump(self) -> None:
        """Tops every stream being answered up to WINDOW unacknowledged bytes."""
        for stream_id, file in list(self.sending.items()):
            stream = self._quic._streams.get(stream_id)
            if stream is None:  # discarded (reset, or the connection is gone)
                file.close()
                del self.sending[stream_id]
                continue
            sender = stream.sender
            while sender._buffer_stop - sender._buffer_start < WINDOW:
                chunk = file.read(CHUNK)
                if not chunk:
                    self._quic.send_stream_data(stream_id, b"", end_stream=True)
                    file.close()
                    del self.sending[stream_id]
                    break
                self._quic.send_stream_data(stream_id, chunk)

    def datagram_received(self, data, addr) -> None:
        super().datagram_received(data, addr)
        if self.sending:  # acknowledgements may have made room
            self.pump()
            self.transmit()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    HQServer.root = args.root
    configuration = QuicConfiguration(is_client=False, alpn_protocols=["hq-interop"])
    configuration.load_cert_chain(args.cert, args.key)
    await serve(args.host, args.port, configuration=configuration, create_protocol=HQServer)
    print(f"listening on {args.host}:{args.port}", flush=True)
    await asyncio.Future()


asyncio.run(main())
