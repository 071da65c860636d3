"""The official Python MCP client (mcp 2.x) driving our server over stdio.

Usage: mcp_stdio_client.py SERVER_EXECUTABLE [ARGS...]
Prints one JSON object with what the client saw; exits non-zero on a protocol failure.
"""
import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(command: str, args: list[str]) -> None:
    parameters = StdioServerParameters(command=command, args=args)
    async with stdio_client(parameters) as (read, write):
        async with ClientSession(read, write) as session:
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
            prompts = await session.list_prompts()
            prompt = await session.get_prompt("summarise", {"text": "A long story."})
            print(json.dumps({
                "resources": [str(resource.uri) for resource in resources.resources],
                "templates": [template.uri_template for template in templates.resource_templates],
                "readme": readme.contents[0].text,
                "item": item.contents[0].text,
                "missing_resource": missing,
                "prompts": [p.name for p in prompts.prompts],
                "prompt_text": prompt.messages[0].content.text,
                "protocol_version": initialized.protocol_version,
                "server": initialized.server_info.name,
                "tools": [tool.name for tool in tools.tools],
                "add_schema_required": tools.tools[0].input_schema.get("required"),
                "structured": added.structured_content,
                "is_error": added.is_error,
                "bad_arguments": bad_arguments,
            }))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2:])
