"""The official Python MCP client (mcp 2.x) driving our server.

Usage: mcp_client.py [--protocol=VERSION] stdio SERVER_EXECUTABLE [ARGS...]
       mcp_client.py http|sse URL
       mcp_client.py ws URL      (the SDK has no WebSocket client: JSON-RPC over the
                                  `websockets` package, subprotocol mcp)
Works with the SDK's 2.x and 1.x generations. --protocol=V makes the client ask for V instead
of its newest (to check negotiation of older versions).
Prints one JSON object with what the client saw; exits non-zero on a protocol failure.
"""
import json
import sys
import time

import anyio
import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

try:
    from mcp.client.streamable_http import streamable_http_client
except ImportError:  # the 1.x generation's name
    from mcp.client.streamable_http import streamablehttp_client as streamable_http_client



def attr(value, name: str):
    """A result field by its 2.x snake_case name, or the 1.x generation's camelCase one."""
    if hasattr(value, name):
        return getattr(value, name)
    head, *rest = name.split("_")
    return getattr(value, head + "".join(part.title() for part in rest))


def connect(transport: str, target: list[str]):
    if transport == "stdio":
        return stdio_client(StdioServerParameters(command=target[0], args=target[1:]))
    if transport == "sse":
        return sse_client(target[0])
    return streamable_http_client(target[0])


async def over_websocket(url: str) -> None:
    import websockets

    async with websockets.connect(url, subprotocols=["mcp"]) as ws:
        async def call(message: dict) -> dict:
            await ws.send(json.dumps(message))
            return json.loads(await ws.recv())

        initialized = await call({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "ws", "version": "1"}}})
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        tools = await call({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        added = await call({"jsonrpc": "2.0", "id": "three", "method": "tools/call",
                            "params": {"name": "add", "arguments": {"a": 2, "b": 3.5}}})
        bad = await call({"jsonrpc": "2.0", "id": 4, "method": "nope"})
        garbage = await call("{not json")  # sent as a JSON string: not an object
        print(json.dumps({
            "subprotocol": ws.subprotocol,
            "protocol_version": initialized["result"]["protocolVersion"],
            "tools": [tool["name"] for tool in tools["result"]["tools"]],
            "structured": added["result"]["structuredContent"],
            "echoed_id": added["id"],
            "unknown_method": bad["error"]["code"],
            "not_a_message": garbage["error"]["code"],
        }))


async def main(transport: str, target: list[str]) -> None:
    if transport == "ws":
        return await over_websocket(target[0])
    logs = []
    progress = []

    async def on_log(params) -> None:
        logs.append(params.data)

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append([done, total, message])

    async with connect(transport, target) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write, logging_callback=on_log) as session:
            initialized = await session.initialize()
            tools = await session.list_tools()
            added = await session.call_tool("add", {"a": 2, "b": 3.5})
            try:
                await session.call_tool("add", {"a": "two"})
                bad_arguments = "accepted"
            except Exception as error:  # the SDK raises McpError for a JSON-RPC error
                bad_arguments = getattr(getattr(error, "error", None), "code", str(error))
            resources = await session.list_resources()
            templates = await session.list_resource_templates()
            readme = await session.read_resource("demo://readme")
            item = await session.read_resource("items://7")
            try:
                await session.read_resource("items://0")
                missing = "found"
            except Exception as error:
                missing = getattr(getattr(error, "error", None), "code", str(error))
            await session.set_logging_level("info")
            counted = await session.call_tool("countdown", {"from": 3}, progress_callback=on_progress)
            prompts = await session.list_prompts()
            prompt = await session.get_prompt("summarise", {"text": "A long story."})
            # Cancellation: a call given up on (the SDK tells the server) leaves the session usable.
            started = time.monotonic()
            with anyio.move_on_after(0.5):
                await session.call_tool("sleep", {"seconds": 30})
            await session.send_ping()
            cancelled_after = time.monotonic() - started
            print(json.dumps({
                "resources": [str(resource.uri) for resource in resources.resources],
                "templates": [attr(template, "uri_template") for template in attr(templates, "resource_templates")],
                "readme": readme.contents[0].text,
                "item": item.contents[0].text,
                "missing_resource": missing,
                "prompts": [p.name for p in prompts.prompts],
                "prompt_text": prompt.messages[0].content.text,
                "countdown": attr(counted, "structured_content"),
                "progress": progress,
                "logs": logs,
                "protocol_version": attr(initialized, "protocol_version"),
                "server": attr(initialized, "server_info").name,
                "tools": [tool.name for tool in tools.tools],
                "add_schema_required": attr(tools.tools[0], "input_schema").get("required"),
                "structured": attr(added, "structured_content"),
                "is_error": attr(added, "is_error"),
                "bad_arguments": bad_arguments,
                "cancelled_after": cancelled_after,
            }))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[0].startswith("--protocol="):
        mcp.types.LATEST_PROTOCOL_VERSION = arguments.pop(0).split("=", 1)[1]
    anyio.run(main, arguments[0], arguments[1:])
