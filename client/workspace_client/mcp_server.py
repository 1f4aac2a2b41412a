"""``ws mcp``: the workspace tools served over the Model Context Protocol on stdio.

Built on the ``mcp`` SDK's low-level ``Server`` so that each tool is listed with exactly the
JSON schema and description of ``workspace_client.tools`` (the OpenAI and Anthropic exports
use the same ones). Calls run in a worker thread (the client is synchronous) and every
failure, from a 403 to malware, comes back as a tool error (``is_error``) carrying the API's
message: the server never crashes on a call. stdout carries the protocol, so nothing else is
ever printed there.

Needs ``pip install 'workspace-client[mcp]'`` (Python >= 3.10).
"""

from __future__ import annotations

from typing import Any

from workspace_client.client import Workspace
from workspace_client.tools import TOOLS, ToolDispatcher

SERVER_NAME = "agent-workspace"
INSTRUCTIONS = (
    "Tools for an agent workspace: files with virtual paths (every file is virus-scanned), a "
    "shared Markdown memory, an operation log, and a search over all three. Files are named by "
    "id (file_000001) or by path (/notes/plan.md).")


class McpUnavailable(RuntimeError):
    """The MCP SDK is not installed (or this Python is older than 3.10)."""


def build_server(workspace: Workspace) -> Any:
    """The MCP server for one workspace (an ``mcp.server.lowlevel.Server``)."""
    try:
        import anyio
        import mcp_types as types
        from mcp.server.lowlevel import Server
    except ImportError as exc:
        raise McpUnavailable("ws mcp needs the MCP SDK: pip install 'workspace-client[mcp]' "
                             "(Python 3.10 or newer)") from exc

    dispatcher = ToolDispatcher(workspace)
    listed = [types.Tool(name=t.name, description=t.description, input_schema=t.parameters)
              for t in TOOLS.values()]

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: Any) -> Any:
        result = await anyio.to_thread.run_sync(dispatcher.call, params.name,
                                                params.arguments or {})
        return types.CallToolResult(content=[types.TextContent(text=result.text)],
                                    structured_content=result.data, is_error=result.is_error)

    return Server(SERVER_NAME, version=_version(), instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def serve(workspace: Workspace) -> None:
    """Serve the tools on stdin/stdout until the client closes the stream."""
    server = build_server(workspace)
    import anyio
    from mcp.server.stdio import stdio_server

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


def _version() -> str:
    from workspace_client import __version__

    return __version__
