"""asyncpg driver loop for scripts/bench.sh's db phase: COUNT single-row prepared selects
`SELECT id, randomnumber FROM world WHERE id = $1` with random ids 1...10,000, spread over
CONCURRENCY workers that each hold their own connection, on uvloop.

    python asyncpg_loop.py --url postgres://... --count 200000 --concurrency 16

Connecting and preparing are not timed. Prints one JSON line:
    {"driver":"asyncpg","mode":"select","count":N,"concurrency":C,"seconds":S,"rate":R}
"""

import argparse
import asyncio
import json
import random
import sys
import time

import asyncpg
import uvloop

READ_ROW = "SELECT id, randomnumber FROM world WHERE id = $1"


async def prepared(url: str) -> tuple[asyncpg.Connection, asyncpg.prepared_stmt.PreparedStatement]:
    connection = await asyncpg.connect(url)
    return connection, await connection.prepare(READ_ROW)


async def select_all(statement: asyncpg.prepared_stmt.PreparedStatement, ids: list[int]) -> int:
    found = 0
    for i in ids:
        row = await statement.fetchrow(i)
        found += row is not None and row["id"] == i
    return found


async def main(url: str, count: int, concurrency: int) -> None:
    workers = await asyncio.gather(*(prepared(url) for _ in range(concurrency)))
    # Worker k runs count // concurrency selects, one more for the first count % concurrency.
    ids = [[random.randint(1, 10000) for _ in range(count // concurrency + (k < count % concurrency))]
           for k in range(concurrency)]
    began = time.perf_counter()
    found = sum(await asyncio.gather(*(select_all(s, i) for (_, s), i in zip(workers, ids))))
    seconds = time.perf_counter() - began
    await asyncio.gather(*(c.close() for c, _ in workers))
    if found != count:
        sys.exit(f"asyncpg_loop: {count - found} of {count} selects found no matching row")
    print(json.dumps({"driver": "asyncpg", "mode": "select", "count": count, "concurrency": concurrency,
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
