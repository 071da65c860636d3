"""FastAPI peer for scripts/bench.sh: the same routes as fasterapi-demo's benchmark API.

Run (from this folder):
    uvicorn fastapi_app:app --host 127.0.0.1 --port N --loop uvloop --http httptools \
        --workers 1 --log-level warning --no-access-log
"""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

# Handlers are `async def` so they run on the event loop, not in the thread pool
# (the faster, usual choice for handlers that do no blocking work).
app = FastAPI()


class Message(BaseModel):
    message: str


class User(BaseModel):
    id: int
    name: str


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    # PlainTextResponse sets "text/plain; charset=utf-8".
    return "Hello, World!"


@app.get("/json")
async def json_message() -> Message:
    return Message(message="Hello, World!")


@app.get("/users/{id}")
async def user(id: int) -> User:
    # A non-integer id is rejected by FastAPI with 422.
    return User(id=id, name=f"user-{id}")


class NewAccount(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    age: int = Field(ge=0, le=150)
    score: float = Field(ge=0, le=10)
    tags: list[str] = Field(default=[], max_length=10)


class Account(BaseModel):
    id: int
    name: str
    email: str
    age: int
    score: float
    tags: list[str]


@app.post("/accounts", status_code=201)
async def create_account(account: NewAccount) -> Account:
    return Account(id=1, **account.model_dump())
