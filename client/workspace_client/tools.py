"""The workspace as LLM tools: one set of ``Tool`` definitions, exported as OpenAI and
Anthropic tool-use schemas, and one ``ToolDispatcher`` that executes a tool call.

    from workspace_client import Workspace
    from workspace_client.tools import ToolDispatcher, anthropic_tools, openai_tools

    tools = openai_tools()                      # pass as ``tools=`` to the OpenAI API
    dispatcher = ToolDispatcher(Workspace(url, key))
    message = dispatcher.openai(tool_call)      # the ``role: tool`` reply to append

The ``ws mcp`` server serves the same tools over the Model Context Protocol. A failed call is
never an exception: it comes back as a tool error carrying the API's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from workspace_client.client import Workspace
from workspace_client.errors import Forbidden, Infected, RateLimited, WorkspaceError
from workspace_client.tool_impl import TOOL_FUNCTIONS


@dataclass(frozen=True)
class Tool:
    """A tool: its name, an LLM-ready description, a JSON schema for its arguments, and
    the function that runs it against a ``Workspace``."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[Workspace, dict[str, Any]], Any]


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


_FILE = {"type": "string", "description": "A file id such as file_000001, or a virtual path "
         "such as /notes/plan.md."}
_TAGS = {"type": "array", "items": {"type": "string"}, "description": "Tags; a file must "
         "carry every one listed."}

_SPECS: list[tuple[str, str, dict[str, Any]]] = [
    ("list_files",
     "List the files in the workspace, oldest first, with their id, path, size, type, status, "
     "tags and description. Filter by folder, tags or type. When more files exist the result "
     "has a next_cursor: pass it back as cursor to get the next page.",
     _schema({"path": {"type": "string", "description": "Only files under this folder, for "
                       "example /reports/ (/ is everything)."},
              "tags": _TAGS,
              "file_type": {"type": "string",
                            "enum": ["image", "video", "audio", "document", "other"]},
              "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
              "cursor": {"type": "string", "description": "next_cursor of the previous page."}})),
    ("read_file",
     "Read a file by id or path. A text file is returned as text (cut at max_chars, with "
     "truncated=true). For an image, a PDF or any other binary file you get a short-lived "
     "download_url instead, which works without credentials until expires_at.",
     _schema({"file": _FILE,
              "max_chars": {"type": "integer", "minimum": 1, "maximum": 1000000,
                            "default": 100000}}, ("file",))),
    ("write_file",
     "Create a file at a virtual path from text (or base64 bytes). Every file is virus-scanned "
     "before it is stored; malware is refused with the signature's name. A path that is "
     "already taken is an error unless overwrite is true, which keeps the file's id and adds "
     "a new version.",
     _schema({"path": {"type": "string", "description": "The file's virtual path, starting "
                       "with / and ending with the file name, for example /notes/plan.md."},
              "content": {"type": "string", "description": "The file's content."},
              "encoding": {"type": "string", "enum": ["text", "base64"], "default": "text",
                           "description": "base64 when content holds base64-encoded bytes."},
              "description": {"type": "string", "description": "What the file is, for "
                              "people and for search."},
              "tags": {"type": "array", "items": {"type": "string"}},
              "overwrite": {"type": "boolean", "default": False}}, ("path", "content"))),
    ("delete_file",
     "Delete a file by id or path. Its path is free again at once.",
     _schema({"file": _FILE}, ("file",))),
    ("search",
     "Search the workspace: file names, descriptions and tags, the shared memory (matching "
     "lines with context) and the operation log. Words match by prefix, case-insensitively.",
     _schema({"query": {"type": "string"},
              "types": {"type": "array",
                        "items": {"type": "string", "enum": ["files", "memory", "logs"]},
                        "description": "What to search; all three by default."},
              "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
             ("query",))),
    ("read_memory",
     "Read the workspace's shared memory: a Markdown document that agents and users keep "
     "notes, decisions and state in. Returns its content, version and size limit.",
     _schema({})),
    ("append_memory",
     "Append text to the shared memory (start it with a newline or a Markdown heading). "
     "Concurrent appends are never lost. When the memory is full the text is cut and the "
     "result says so (truncated, message).",
     _schema({"text": {"type": "string"}}, ("text",))),
    ("get_logs",
     "Read the operation log, newest first: who created, read, updated, deleted or scanned "
     "which file or memory, and when.",
     _schema({"operation_type": {"type": "string",
                                 "enum": ["create", "read", "update", "delete", "scan"]},
              "resource_type": {"type": "string", "enum": ["file", "memory", "workspace"]},
              "resource_id": {"type": "string", "description": "For example file_000001."},
              "agent_id": {"type": "string"},
              "since": {"type": "string", "description": "ISO 8601 time, for example "
                        "2026-01-01T00:00:00Z: only entries at or after it."},
              "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}})),
]

TOOLS: dict[str, Tool] = {name: Tool(name, description, schema, TOOL_FUNCTIONS[name])
                          for name, description, schema in _SPECS}


def openai_tools(flavor: str = "chat") -> list[dict[str, Any]]:
    """The tools for OpenAI: ``chat`` (Chat Completions) or ``responses`` (Responses API)."""
    if flavor == "chat":
        return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                  "parameters": t.parameters}}
                for t in TOOLS.values()]
    if flavor == "responses":
        return [{"type": "function", "name": t.name, "description": t.description,
                 "parameters": t.parameters} for t in TOOLS.values()]
    raise ValueError("flavor must be 'chat' or 'responses'")


def anthropic_tools() -> list[dict[str, Any]]:
    """The tools for Anthropic's Messages API."""
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in TOOLS.values()]


@dataclass(frozen=True)
class ToolResult:
    """What a tool call produced: ``data`` on success, ``{"error": ...}`` when ``is_error``."""

    name: str
    data: dict[str, Any]
    is_error: bool = False

    @property
    def text(self) -> str:
        """The result as JSON text, the form a model reads."""
        return json.dumps(self.data, ensure_ascii=False, default=str)


class ToolDispatcher:
    """Executes tool calls against one workspace; never raises for a failed call."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def call(self, name: str, arguments: Mapping[str, Any] | str | None = None) -> ToolResult:
        """Run tool ``name`` with ``arguments`` (a dict, or JSON text as OpenAI sends it)."""
        tool = TOOLS.get(name)
        if tool is None:
            return _failure(name, f"unknown tool {name!r}; the tools are {', '.join(TOOLS)}")
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
            if not isinstance(args, dict):
                raise ValueError("the arguments must be a JSON object")
            check_arguments(tool.parameters, args)
            return ToolResult(name, tool.run(self.workspace, args))
        except WorkspaceError as exc:
            return _failure(name, exc.message, _error_extras(exc))
        except ValueError as exc:  # bad arguments, or a JSON decoding error
            return _failure(name, f"invalid arguments: {exc}")
        except Exception as exc:  # noqa: BLE001 - a tool error for the model, never a crash
            return _failure(name, f"{type(exc).__name__}: {exc}")

    def openai(self, tool_call: Any) -> dict[str, Any]:
        """Run an OpenAI tool call (Chat Completions ``tool_calls[i]`` or a Responses
        ``function_call`` item, as a dict or an SDK object) and build the reply item."""
        function = _get(tool_call, "function")
        if function is not None:
            result = self.call(_get(function, "name"), _get(function, "arguments"))
            return {"role": "tool", "tool_call_id": _get(tool_call, "id"),
                    "content": result.text}
        result = self.call(_get(tool_call, "name"), _get(tool_call, "arguments"))
        return {"type": "function_call_output", "call_id": _get(tool_call, "call_id"),
                "output": result.text}

    def anthropic(self, tool_use: Any) -> dict[str, Any]:
        """Run an Anthropic ``tool_use`` block and build its ``tool_result`` block."""
        result = self.call(_get(tool_use, "name"), _get(tool_use, "input"))
        return {"type": "tool_result", "tool_use_id": _get(tool_use, "id"),
                "content": result.text, "is_error": result.is_error}


def dispatch(workspace: Workspace, name: str,
             arguments: Mapping[str, Any] | str | None = None) -> ToolResult:
    """Run one tool call (a shortcut for ``ToolDispatcher(workspace).call``)."""
    return ToolDispatcher(workspace).call(name, arguments)


def check_arguments(schema: dict[str, Any], args: dict[str, Any]) -> None:
    """``ValueError`` naming the first argument that does not fit the tool's schema."""
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in args:
            raise ValueError(f"{key!r} is required")
    for key, value in args.items():
        spec = properties.get(key)
        if spec is None:
            raise ValueError(f"unknown argument {key!r}; expected {', '.join(properties)}")
        _check_value(key, spec, value)


_TYPES: dict[str, Any] = {"string": str, "integer": int, "boolean": bool, "array": list}


def _check_value(key: str, spec: dict[str, Any], value: Any) -> None:
    kind = spec.get("type")
    expected = _TYPES.get(kind or "")
    if expected is not None and (not isinstance(value, expected) or (
            kind == "integer" and isinstance(value, bool))):
        raise ValueError(f"{key!r} must be a{'n' if kind in ('integer', 'array') else ''} "
                         f"{kind}")
    if "enum" in spec and value not in spec["enum"]:
        raise ValueError(f"{key!r} must be one of {', '.join(map(str, spec['enum']))}")
    if kind == "integer" and not spec.get("minimum", value) <= value <= spec.get("maximum",
                                                                                  value):
        raise ValueError(f"{key!r} must be between {spec.get('minimum')} and "
                         f"{spec.get('maximum')}")
    if kind == "array":
        for item in value:
            _check_value(f"{key}[]", spec.get("items", {}), item)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def _error_extras(exc: WorkspaceError) -> dict[str, Any]:
    extras: dict[str, Any] = {"status": exc.status}
    if isinstance(exc, Infected):
        extras["signature"] = exc.signature
    if isinstance(exc, Forbidden) and exc.scope:
        extras["missing_scope"] = exc.scope
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        extras["retry_after"] = exc.retry_after
    return extras


def _failure(name: str, message: str, extras: dict[str, Any] | None = None) -> ToolResult:
    return ToolResult(name, {"error": message, **(extras or {})}, is_error=True)
