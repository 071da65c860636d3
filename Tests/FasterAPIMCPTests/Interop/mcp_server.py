"""A server built with the official Python MCP SDK (mcp 2.x), for our MCP client to talk to.

Usage: mcp_server.py stdio
       mcp_server.py sse --port P            (GET /sse, POST /messages/?session_id=...)
       mcp_server.py http --port P [--json]  (Streamable HTTP at /mcp; SSE responses unless --json)
Binds 127.0.0.1 only. Prints "ready" to stderr once it accepts connections; stdout is left
to the protocol (stdio) and everything else goes to stderr.

Contents: tools add, countdown, fail, slow, ask (sampling), confirm (elicitation), roots,
touch (resources/updated) and extra_000...extra_149; resource demo://readme, template
items://{id}; prompt summarise. MCPServer does not paginate tools/list: all 158 come in one page.
"""
import argparse
import json
import signal
import sys
import warnings
from typing import Literal, TypedDict

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.elicitation import elicit_with_validation
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import EmptyResult, SamplingMessage, SetLevelRequestParams, TextContent
from pydantic import BaseModel

# Sampling, roots and logging are deprecated as of protocol 2026-07-28, but our client speaks
# the handshake versions, where they are current.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

server = MCPServer("python-peer", version="1.0.0", log_level="WARNING")


# MCPServer has no logging/setLevel handler, so it would not declare the logging capability and
# would answer setLevel with -32601. Accept it (and with it declare `logging`); on the handshake
# versions every level is sent regardless, so the level itself is ignored.
async def set_level(ctx, params: SetLevelRequestParams) -> EmptyResult:
    return EmptyResult()


server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


# TypedDict return types make the SDK publish an outputSchema and send structuredContent
# (plus the same object as JSON text in content, for older clients).
class Sum(TypedDict):
    sum: float


class Done(TypedDict):
    done: int


class Slept(TypedDict):
    slept: float


class Answer(TypedDict):
    answer: str


class Confirmation(TypedDict):
    action: Literal["accept", "decline", "cancel"]
    ok: bool | None


class Roots(TypedDict):
    uris: list[str]


class Touched(TypedDict):
    ok: bool


class Numbered(TypedDict):
    n: int


class Ok(BaseModel):  # the elicitation form (no docstring: it would become the schema's description)
    ok: bool


@server.tool()
def add(a: float, b: float) -> Sum:
    """Add two numbers."""
    return {"sum": a + b}


@server.tool()
async def countdown(n: int, ctx: Context) -> Done:
    """Report n progress steps and log one info message per step."""
    # Progress goes out only if the call carried _meta.progressToken. With --json the SDK drops
    # both (request-scoped notifications have no stream to ride).
    for i in range(1, n + 1):
        await ctx.report_progress(i, n)
        await ctx.info(f"step {i} of {n}")
    return {"done": n}


@server.tool(structured_output=False)  # no outputSchema
def fail() -> None:
    """Always fails."""
    # The SDK answers with isError: true and "Error executing tool fail: deliberate failure" as text.
    raise ToolError("deliberate failure")


@server.tool()
async def slow(seconds: float) -> Slept:
    """Sleep, so the client can cancel the call mid-way."""
    # On notifications/cancelled the SDK cancels this task. Over stdio and SSE it then sends nothing
    # for the call; over Streamable HTTP it ends the call's stream with error -32800 "Request cancelled".
    await anyio.sleep(seconds)
    return {"slept": seconds}


def related(ctx: Context):
    """Where a server-initiated request goes: the call's own response stream (the call's id) when it
    can carry one; else (Streamable HTTP with --json, whose POST answers with a bare JSON body) None,
    i.e. the connection's standalone stream, GET /mcp."""
    return ctx.request_id if ctx.session.can_send_request else None


@server.tool()
async def ask(question: str, ctx: Context) -> Answer:
    """Ask the client's model (sampling/createMessage) and return the text it replied with."""
    reply = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=question))],
        max_tokens=50,
        related_request_id=related(ctx),
    )
    return {"answer": reply.content.text if isinstance(reply.content, TextContent) else str(reply.content)}


@server.tool()
async def confirm(prompt: str, ctx: Context) -> Confirmation:
    """Ask the user (elicitation/create, form mode) for a yes/no."""
    # ctx.elicit(prompt, Ok) is this, with related_request_id always the call's id.
    result = await elicit_with_validation(ctx.session, prompt, Ok, related_request_id=related(ctx))
    return {"action": result.action, "ok": result.data.ok if result.action == "accept" else None}


@server.tool()
async def roots(ctx: Context) -> Roots:
    """Ask the client for its roots (roots/list)."""
    # list_roots() takes no related_request_id: on Streamable HTTP this rides the standalone GET stream.
    result = await ctx.session.list_roots()
    return {"uris": [str(root.uri) for root in result.roots]}


@server.tool()
async def touch(uri: str, ctx: Context) -> Touched:
    """Send notifications/resources/updated for uri."""
    # Not request-related either: the standalone GET stream on Streamable HTTP.
    await ctx.session.send_resource_updated(uri)
    return {"ok": True}


def numbered(i: int):
    def extra() -> Numbered:
        return {"n": i}

    return extra


for i in range(150):  # enough to need several pages, if the server paginated
    server.add_tool(numbered(i), name=f"extra_{i:03d}", description=f"Filler tool {i}.")


@server.resource("demo://readme", mime_type="text/plain")
def readme() -> str:
    return "FasterAPI MCP peer"


@server.resource("items://{id}", mime_type="application/json")
def item(id: int) -> str:
    return json.dumps({"id": id})


@server.prompt()
def summarise(text: str) -> str:
    """A single user message."""
    return f"Summarise: {text}"


async def serve_http(app, port: int) -> None:
    """Run uvicorn on 127.0.0.1:port and say "ready" once it is listening."""
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve)
        while not web.started:
            await anyio.sleep(0.01)
        print("ready", file=sys.stderr, flush=True)


def main() -> None:
    # A child of a Swift test process may start with SIGTERM blocked: take it back, so that
    # stopping the peer is quick.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "sse", "http"])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--json", action="store_true", help="Streamable HTTP: plain JSON responses, not SSE")
    args = parser.parse_args()
    if args.transport == "stdio":
        print("ready", file=sys.stderr, flush=True)
        server.run("stdio")
    elif args.transport == "sse":
        anyio.run(serve_http, server.sse_app(), args.port)
    else:
        anyio.run(serve_http, server.streamable_http_app(json_response=args.json), args.port)


if __name__ == "__main__":
    main()
