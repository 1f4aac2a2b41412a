"""``ws mcp``: the installed script started as a subprocess, spoken to over stdio with the MCP
SDK's own client, against a real embedded server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from workspace_client.tools import TOOLS

from tests.client.conftest import WS_SCRIPT, ws_env
from tests.conftest import EICAR, require


@pytest.fixture(autouse=True)
def mcp_sdk() -> None:
    require(importlib.util.find_spec("mcp") is not None, "the mcp SDK (workspace-client[mcp])")
    require(WS_SCRIPT.exists(), "the ws script (pip install ./client)")


def speak(url: str, token: str, talk: Callable[[Any], Awaitable[Any]]) -> Any:
    """Start ``ws mcp``, initialize a session, run ``talk(session)``, then close it all."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def run() -> Any:
        params = StdioServerParameters(command=str(WS_SCRIPT), args=["mcp"],
                                       env=ws_env(url, token))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await talk(session)

    # A thread of its own: a loop may already run in this one (Playwright's sync API leaves
    # one behind in a worker that ran the browser tests), and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(run(), timeout=60)).result()


def text_of(result: Any) -> dict[str, Any]:
    return json.loads(result.content[0].text)


def test_tools_write_read_memory_and_malware(server, token) -> None:
    async def talk(session: Any) -> dict[str, Any]:
        listed = await session.list_tools()
        out: dict[str, Any] = {"tools": {t.name: t for t in listed.tools}}
        out["write"] = await session.call_tool(
            "write_file", {"path": "/notes/mcp.md", "content": "# From MCP\n", "tags": ["mcp"]})
        out["read"] = await session.call_tool("read_file", {"file": "/notes/mcp.md"})
        out["append1"] = await session.call_tool("append_memory", {"text": "- first"})
        out["append2"] = await session.call_tool("append_memory", {"text": "\n- second"})
        out["memory"] = await session.call_tool("read_memory", {})
        out["eicar"] = await session.call_tool("write_file", {"path": "/eicar.txt",
                                                              "content": EICAR.decode()})
        out["after"] = await session.call_tool("list_files", {})
        return out

    got = speak(server.url, token, talk)
    assert list(got["tools"]) == list(TOOLS)
    for name, tool in got["tools"].items():
        assert tool.input_schema == TOOLS[name].parameters
        assert tool.description == TOOLS[name].description
    assert got["write"].is_error is False
    written = got["write"].structured_content["file"]
    assert written["path"] == "/notes/mcp.md" and written["status"] == "ready"
    assert text_of(got["read"])["content"] == "# From MCP\n"
    assert text_of(got["append2"])["version"] == 2
    assert text_of(got["memory"])["content"] == "- first\n- second"
    assert got["eicar"].is_error is True
    error = text_of(got["eicar"])
    assert error["signature"] == "Workspace.Test.EICAR.UNOFFICIAL" and "malware" in error["error"]
    assert [f["path"] for f in text_of(got["after"])["files"]] == ["/notes/mcp.md"]


def test_api_errors_are_tool_errors_and_the_server_keeps_serving(server) -> None:
    async def talk(session: Any) -> list[Any]:
        return [await session.call_tool("list_files", {}),
                await session.call_tool("read_file", {"file": "file_000001", "bogus": True}),
                await session.call_tool("read_memory", {})]

    denied, invalid, again = speak(server.url, "not-a-valid-token", talk)
    assert denied.is_error and text_of(denied)["status"] == 401
    assert invalid.is_error and "unknown argument 'bogus'" in text_of(invalid)["error"]
    assert again.is_error and text_of(again)["status"] == 401  # still answering
