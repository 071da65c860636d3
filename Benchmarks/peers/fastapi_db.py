"""FastAPI + asyncpg peer for scripts/bench.sh's db phase: TechEmpower's /db and /queries.

Reads the table world(id int primary key, randomnumber int) with ids 1...10,000 from the
PostgreSQL at DATABASE_URL, through an asyncpg pool of DB_POOL connections (default 16).

Run (from this folder):
    DATABASE_URL=postgres://... uvicorn fastapi_db:app --host 127.0.0.1 --port N --loop uvloop \
        --http httptools --workers 1 --log-level warning --no-access-log
"""

import os
from contextlib import asynccontextmanager
from random import randint

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse

READ_ROW = "SELECT id, randomnumber FROM world WHERE id = $1"
POOL_SIZE = int(os.environ.get("DB_POOL", "16"))
pool: asyncpg.Pool


@asynccontextmanager
async def lifespan(_: FastAPI):
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


def query_count(n: str | None) -> int:
    # TechEmpower's rule: a missing or non-numeric count is 1, and counts are clamped to 1...500.
    try:
        count = int(n) if n is not None else 1
    except ValueError:
        return 1
    return min(max(count, 1), 500)


@app.get("/db")
async def single_query() -> JSONResponse:
    row = await pool.fetchrow(READ_ROW, randint(1, 10000))
    return JSONResponse({"id": row["id"], "randomNumber": row["randomnumber"]})


@app.get("/queries")
async def multiple_queries(n: str | None = None) -> JSONResponse:
    worlds = []
    async with pool.acquire() as connection:
        for _ in range(query_count(n)):
            row = await connection.fetchrow(READ_ROW, randint(1, 10000))
            worlds.append({"id": row["id"], "randomNumber": row["randomnumber"]})
    return JSONResponse(worlds)
