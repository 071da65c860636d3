"""The FastAPI reference app for the differential test of FasterAPI's typed layer.

Usage: differential_app.py PORT

Serves on 127.0.0.1:PORT (uvicorn, log level warning, no access log). The Swift twin mirrors
these routes exactly; differential.py sends differential_cases.json to both and compares the
answers. Do not add or change routes here without changing the Swift twin too.
"""

import sys
from enum import Enum

from fastapi import Cookie, Depends, FastAPI, Form, Header, HTTPException, Path, Query
from pydantic import BaseModel, Field


class Sort(str, Enum):
    asc = "asc"
    desc = "desc"


class Dimensions(BaseModel):
    width: float = Field(ge=0)
    height: float = Field(ge=0)


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    sku: str = Field(pattern=r"^[A-Z]{3}-[0-9]{4}$")
    price: float = Field(gt=0)
    quantity: int = Field(default=0, ge=0, le=1000)
    tags: list[str] = Field(default=[], max_length=5)
    dimensions: Dimensions | None = None


def pagination(skip: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100)) -> dict:
    return {"skip": skip, "limit": limit}


def current_user(authorization: str | None = Header(None)) -> str:
    if authorization != "Bearer secret-token":
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return "alice"


app = FastAPI()


@app.get("/items/{item_id}")
def read_item(
    item_id: int = Path(ge=1),
    q: str | None = Query(None, min_length=3, max_length=10),
    verbose: bool = False,
):
    return {"item_id": item_id, "q": q, "verbose": verbose}


@app.get("/items")
def list_items(page: dict = Depends(pagination), sort: Sort = Sort.asc, tags: list[str] = Query([])):
    return {"skip": page["skip"], "limit": page["limit"], "sort": sort, "tags": tags}


@app.post("/items", status_code=201)
def create_item(item: Item):
    return item.model_dump()


@app.put("/items/{item_id}")
def replace_item(item_id: int, item: Item, notify: bool = False):
    return {"item_id": item_id, "item": item, "notify": notify}


@app.get("/ratio")
def ratio(value: float = Query(ge=0, le=1), step: int = Query(5, multiple_of=5)):
    return {"value": value, "step": step}


@app.get("/headers")
def headers(x_token: str = Header(), x_count: int | None = Header(None)):
    return {"x_token": x_token, "x_count": x_count}


@app.get("/cookies")
def cookies(session: str = Cookie(min_length=4)):
    return {"session": session}


@app.get("/me")
def me(user: str = Depends(current_user), page: dict = Depends(pagination)):
    return {"user": user, "skip": page["skip"], "limit": page["limit"]}


@app.post("/login")
def login(username: str = Form(min_length=3), password: str = Form(), remember: bool = Form(False)):
    return {"username": username, "remember": remember}


@app.get("/missing/{n}")
def missing(n: int):
    if n != 1:
        raise HTTPException(404, "Item not found")
    return {"n": 1}


if __name__ == "__main__":
    import uvicorn

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
