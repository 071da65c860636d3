"""A UDP relay that loses, reorders and repeats datagrams, for QUIC transfers under loss.

Usage: lossy_relay.py SERVER_PORT READY_FILE [DROP REORDER DUPLICATE SEED]
Listens on 127.0.0.1 (a free port, written to READY_FILE); the first peer to send is the client,
everything it sends goes to 127.0.0.1:SERVER_PORT and the server's datagrams go back to it.
Each datagram is dropped with probability DROP (default 0.05), held back 5 ms (so later ones
overtake it) with REORDER (0.05), and sent twice with DUPLICATE (0.02); the random choices
come from SEED (1), so a run can be repeated.
"""
import asyncio
import random
import sys


class Relay(asyncio.DatagramProtocol):
    def __init__(self, server, drop, reorder, duplicate, seed):
        self.server = ("127.0.0.1", server)
        self.client = None
        self.drop, self.reorder, self.duplicate = drop, reorder, duplicate
        self.random = random.Random(seed)

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        if address != self.server and self.client is None:
            self.client = address
        target = self.server if address == self.client else self.client
        if target is None or self.random.random() < self.drop:
            return
        copies = 2 if self.random.random() < self.duplicate else 1
        delay = 0.005 if self.random.random() < self.reorder else 0
        for _ in range(copies):
            if delay:
                asyncio.get_running_loop().call_later(delay, self.transport.sendto, data, target)
            else:
                self.transport.sendto(data, target)


async def main():
    server, ready = int(sys.argv[1]), sys.argv[2]
    drop, reorder, duplicate = (float(x) for x in (sys.argv[3:6] or ["0.05", "0.05", "0.02"]))
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Relay(server, drop, reorder, duplicate, seed), local_addr=("127.0.0.1", 0))
    with open(ready, "w") as file:
        file.write(str(transport.get_extra_info("sockname")[1]))
    await asyncio.Future()


asyncio.run(main())
