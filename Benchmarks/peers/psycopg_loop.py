"""psycopg 3 driver loop for scripts/bench.sh's db phase: COUNT single-row prepared selects
`SELECT id, randomnumber FROM world WHERE id = %s` with random ids 1...10,000, spread over
CONCURRENCY workers that each hold their own async connection (autocommit, as asyncpg), on
uvloop. `prepare=True` makes every execute use the connection's server-side prepared statement.

    python psycopg_loop.py --url postgres://... --count 200000 --concurrency 16

Connecting and preparing are not timed. Prints one JSON line:
    {"driver":"psycopg","mode":"select","count":N,"concurrency":C,"seconds":S,"rate":R}
"""

import argparse
import asyncio
import json
import random
import sys
import time

import psycopg
import uvloop

READ_ROW = "SELECT id, randomnumber FROM world WHERE id = %s"


async def prepared(url: str) -> psycopg.AsyncConnection:
    connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await connection.execute(READ_ROW, (1,), prepare=True)
    return connection


async def select_all(connection: psycopg.AsyncConnection, ids: list[int]) -> int:
    found = 0
    async with connection.cursor() as cursor:
        for i in ids:
            await cursor.execute(READ_ROW, (i,), prepare=True)
            row = await cursor.fetchone()
            found += row is not None and row[0] == i
    return found


async def main(url: str, count: int, concurrency: int) -> None:
    connections = await asyncio.gather(*(prepared(url) for _ in range(concurrency)))
    # Worker k runs count // concurrency selects, one more for the first count % concurrency.
    ids = [[random.randint(1, 10000) for _ in range(count // concurrency + (k < count % concurrency))]
           for k in range(concurrency)]
    began = time.perf_counter()
    found = sum(await asyncio.gather(*(select_all(c, i) for c, i in zip(connections, ids))))
    seconds = time.perf_counter() - began
    await asyncio.gather(*(c.close() for c in connections))
    if found != count:
        sys.exit(f"psycopg_loop: {count - found} of {count} selects found no matching row")
    print(json.dumps({"driver": "psycopg", "mode": "select", "count": count, "concurrency": concurrency,
                      "seconds": round(seconds, 6), "rate": round(count / seconds, 1)}, separators=(",", ":")))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=200000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.count < 1 or args.concurrency < 1:
        parser.error("--count and --concurrency must be positive")
    uvloop.run(main(args.url, args.count, args.concurrency))
