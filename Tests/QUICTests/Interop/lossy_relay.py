"""A UDP relay that loses, reorders and repeats datagrams, for QUIC transfers under loss.

Usage: lossy_relay.py SERVER_PORT READY_FILE [DROP REORDER DUPLICATE SEED]
Listens on 127.0.0.1 (a free port, written to READY_FILE); the first peer to send is the client,
everything it sends goes to 127.0.0.1:SERVER_PORT from a socket of the relay's own, and the
server's datagrams go back to the client. Each datagram is dropped with probability DROP
(default 0.05), held back 5 ms (so later ones overtake it) with REORDER (0.05), and sent twice
with DUPLICATE (0.02); the random choices come from SEED (1), so a run can be repeated.
With REBIND_AFTER=N in the environment, after the client's Nth datagram the relay sends to the
server from a new socket (a new port: what a NAT rebinding looks like to the server).
"""
import asyncio
import os
import random
import sys


class Impaired:
    """Sends datagrams with the relay's loss, reordering and duplication."""

    def __init__(self, drop, reorder, duplicate, seed):
        self.drop, self.reorder, self.duplicate = drop, reorder, duplicate
        self.random = random.Random(seed)

    def send(self, transport, data, target):
        if self.random.random() < self.drop:
            return
        copies = 2 if self.random.random() < self.duplicate else 1
        delay = 0.005 if self.random.random() < self.reorder else 0
        for _ in range(copies):
            if delay:
                asyncio.get_running_loop().call_later(delay, transport.sendto, data, target)
            else:
                transport.sendto(data, target)


class Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards the server: what comes back goes to the client."""

    def __init__(self, relay):
        self.relay = relay

    def datagram_received(self, data, address):
        if self.relay.client is not None:
            self.relay.impaired.send(self.relay.transport, data, self.relay.client)


class Relay(asyncio.DatagramProtocol):
    def __init__(self, server, impaired, rebind_after):
        self.server = ("127.0.0.1", server)
        self.impaired = impaired
        self.client = None
        self.upstream = None
        self.pending = []
        self.rebind_after = rebind_after
        self.from_client = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        if self.client is None:
            self.client = address
        if address != self.client:
            return
        self.from_client += 1
        if self.from_client == self.rebind_after:
            old, self.upstream = self.upstream, None
            old.close()
        if self.upstream is None:
            self.pending.append(data)
            if len(self.pending) == 1:
                asyncio.ensure_future(self.open_upstream())
            return
        self.impaired.send(self.upstream, data, self.server)

    async def open_upstream(self):
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: Upstream(self), local_addr=("127.0.0.1", 0))
        self.upstream = transport
        pending, self.pending = self.pending, []
        for data in pending:
            self.impaired.send(transport, data, self.server)


async def main():
    server, ready = int(sys.argv[1]), sys.argv[2]
    drop, reorder, duplicate = (float(x) for x in (sys.argv[3:6] or ["0.05", "0.05", "0.02"]))
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    impaired = Impaired(drop, reorder, duplicate, seed)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Relay(server, impaired, int(os.environ.get("REBIND_AFTER", "0"))), local_addr=("127.0.0.1", 0))
    with open(ready, "w") as file:
        file.write(str(transport.get_extra_info("sockname")[1]))
    await asyncio.Future()


asyncio.run(main())
