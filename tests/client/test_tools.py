"""``workspace_client.tools``: the OpenAI and Anthropic schemas, and the dispatcher running
every tool against a real embedded server, with failures as tool errors, never exceptions."""

from __future__ import annotations

import base64
import json

import jsonschema
import requests
from workspace_client import Workspace
from workspace_client.tools import TOOLS, ToolDispatcher, anthropic_tools, openai_tools

from tests.conftest import EICAR

NAMES = ["list_files", "read_file", "write_file", "delete_file", "search", "read_memory",
         "append_memory", "get_logs"]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5b1a0a5"
                    "0000000049454e44ae426082")


def test_every_tool_has_a_valid_schema_and_a_description() -> None:
    assert list(TOOLS) == NAMES
    for tool in TOOLS.values():
        jsonschema.Draft202012Validator.check_schema(tool.parameters)
        assert tool.parameters["type"] == "object"
        assert tool.parameters["additionalProperties"] is False
        assert len(tool.description) > 40
    chat = openai_tools()
    assert [t["function"]["name"] for t in chat] == NAMES
    assert all(t["type"] == "function" and t["function"]["parameters"] for t in chat)
    responses = openai_tools("responses")
    assert [(t["type"], t["name"]) for t in responses] == [("function", n) for n in NAMES]
    anthropic = anthropic_tools()
    assert [t["name"] for t in anthropic] == NAMES
    assert all(set(t) == {"name", "description", "input_schema"} for t in anthropic)


def test_write_read_list_and_delete(ws: Workspace) -> None:
    tools = ToolDispatcher(ws)
    written = tools.call("write_file", {"path": "/notes/plan.md", "content": "# Plan\n\nShip.",
                                        "description": "The plan", "tags": ["plan"]})
    assert not written.is_error, written.data
    file = written.data["file"]
    assert file["path"] == "/notes/plan.md" and file["status"] == "ready"
    read = tools.call("read_file", {"file": "/notes/plan.md"})
    assert read.data["content"] == "# Plan\n\nShip." and read.data["truncated"] is False
    short = tools.call("read_file", {"file": file["id"], "max_chars": 6})
    assert short.data["content"] == "# Plan" and short.data["truncated"] is True
    listed = tools.call("list_files", {"path": "/notes/", "tags": ["plan"]})
    assert [f["id"] for f in listed.data["files"]] == [file["id"]]
    assert listed.data["next_cursor"] is None
    taken = tools.call("write_file", {"path": "/notes/plan.md", "content": "again"})
    assert taken.is_error and taken.data["status"] == 409
    assert "already exists" in taken.data["error"]
    replaced = tools.call("write_file", {"path": "/notes/plan.md", "content": "v2",
                                         "overwrite": True})
    assert replaced.data["file"]["version"] == 2
    deleted = tools.call("delete_file", {"file": "/notes/plan.md"})
    assert deleted.data == {"deleted": file["id"], "path": "/notes/plan.md"}
    gone = tools.call("read_file", {"file": file["id"]})
    assert gone.is_error and gone.data == {"error": "file not found", "status": 404}


def test_a_binary_file_is_read_as_a_short_lived_link(ws: Workspace) -> None:
    tools = ToolDispatcher(ws)
    written = tools.call("write_file", {"path": "/img/dot.png", "encoding": "base64",
                                        "content": base64.b64encode(PNG).decode()})
    assert written.data["file"]["mime_type"] == "image/png"
    read = tools.call("read_file", {"file": "/img/dot.png"})
    assert "content" not in read.data and read.data["expires_at"]
    assert requests.get(read.data["download_url"], timeout=30).content == PNG


def test_memory_search_and_logs(ws: Workspace) -> None:
    tools = ToolDispatcher(ws)
    assert tools.call("read_memory").data["content"] == ""
    appended = tools.call("append_memory", {"text": "# Decisions\n\nUse fog in frame 1."})
    assert appended.data["version"] == 1 and appended.data["truncated"] is False
    assert tools.call("read_memory", {}).data["content"] == "# Decisions\n\nUse fog in frame 1."
    found = tools.call("search", {"query": "fog", "types": ["memory"]})
    assert [m["line_number"] for m in found.data["memory"]] == [3]
    assert "files" not in found.data
    logs = tools.call("get_logs", {"resource_type": "memory", "limit": 5})
    assert [e["operation_type"] for e in logs.data["entries"]] == ["read", "create", "read"]
    assert logs.data["entries"][1]["agent_id"] == "tester"


def test_failures_are_tool_errors(ws: Workspace) -> None:
    tools = ToolDispatcher(ws)
    infected = tools.call("write_file", {"path": "/eicar.txt", "content": EICAR.decode()})
    assert infected.is_error and infected.data["status"] == 422
    assert infected.data["signature"] == "Workspace.Test.EICAR.UNOFFICIAL"
    for name, args, words in [
        ("read_file", {}, "'file' is required"),
        ("read_file", {"file": "/x", "extra": 1}, "unknown argument 'extra'"),
        ("list_files", {"limit": "ten"}, "'limit' must be an integer"),
        ("list_files", {"limit": 0}, "between 1 and 200"),
        ("get_logs", {"operation_type": "explode"}, "must be one of"),
        ("write_file", {"path": "/dir/", "content": "x"}, "end with a file name"),
        ("write_file", {"path": "/b.bin", "content": "%%", "encoding": "base64"}, "base64"),
        ("read_file", "{not json", "invalid arguments"),
        ("format_disk", {}, "unknown tool"),
    ]:
        result = tools.call(name, args)
        assert result.is_error and words in result.data["error"], (name, result.data)
        assert json.loads(result.text) == result.data


def test_openai_and_anthropic_calls_round_trip(ws: Workspace) -> None:
    tools = ToolDispatcher(ws)
    chat = tools.openai({"id": "call_1", "type": "function", "function": {
        "name": "write_file", "arguments": json.dumps({"path": "/a.txt", "content": "hi"})}})
    assert chat["role"] == "tool" and chat["tool_call_id"] == "call_1"
    assert json.loads(chat["content"])["file"]["path"] == "/a.txt"
    item = tools.openai({"type": "function_call", "call_id": "fc_1", "name": "read_file",
                         "arguments": json.dumps({"file": "/a.txt"})})
    assert item["type"] == "function_call_output" and item["call_id"] == "fc_1"
    assert json.loads(item["output"])["content"] == "hi"
    block = tools.anthropic({"type": "tool_use", "id": "toolu_1", "name": "read_file",
                             "input": {"file": "/missing.txt"}})
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_1"
    assert block["is_error"] is True and "no file at /missing.txt" in block["content"]
