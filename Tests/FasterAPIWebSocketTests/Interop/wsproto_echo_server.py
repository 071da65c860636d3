"""An echo server on `wsproto` (sans-IO, strict RFC 6455/7692), for our client to connect to:
asyncio streams on 127.0.0.1, permessage-deflate accepted when offered (unless
--no-compression), the `echo` subprotocol selected when offered, every message echoed with its
type, `close:CODE:REASON` answered by closing with that code and reason. Prints {"port": P}."""

import argparse
import asyncio
import json
import sys

from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Request,
                            TextMessage)
from wsproto.extensions import PerMessageDeflate


async def serve_client(reader, writer, compression):
    connection = WSConnection(ConnectionType.SERVER)
    text_parts, binary_parts = [], []
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout=60)
            connection.receive_data(data or None)
            for event in connection.events():
                if isinstance(event, Request):
                    protocol = "echo" if "echo" in event.subprotocols else None
                    extensions = [PerMessageDeflate()] if compression else []
                    writer.write(connection.send(AcceptConnection(subprotocol=protocol, extensions=extensions)))
                elif isinstance(event, TextMessage):
                    text_parts.append(event.data)
                    if event.message_finished:
                        text = "".join(text_parts)
                        text_parts.clear()
                        if text.startswith("close:"):
                            _, code, reason = text.split(":", 2)
                            writer.write(connection.send(CloseConnection(code=int(code), reason=reason)))
                        else:
                            writer.write(connection.send(TextMessage(data=text)))
                elif isinstance(event, BytesMessage):
                    binary_parts.append(event.data)
                    if event.message_finished:
                        writer.write(connection.send(BytesMessage(data=b"".join(binary_parts))))
                        binary_parts.clear()
                elif isinstance(event, Ping):
                    writer.write(connection.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if connection.state.name != "CLOSED":
                        writer.write(connection.send(event.response()))
                    await writer.drain()
                    return
            await writer.drain()
            if not data:
                return
    except (asyncio.TimeoutError, ConnectionError):
        return
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, not args.no_compression), "127.0.0.1", args.port)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
