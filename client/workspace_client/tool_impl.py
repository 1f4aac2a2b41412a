"""What each agent tool does (``TOOL_FUNCTIONS``): a ``Workspace`` call shaped into a small
JSON result a model can read. The names, descriptions and schemas live in ``tools``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable

from workspace_client.client import Workspace
from workspace_client.models import File, LogEntry, format_time

#: MIME types (besides ``text/*``) whose bytes are read back as text.
TEXT_TYPES = ("application/json", "application/xml", "application/x-ndjson",
              "application/javascript", "application/x-yaml", "application/yaml",
              "application/toml", "application/sql", "application/x-sh", "image/svg+xml")


def file_summary(record: File) -> dict[str, Any]:
    """The fields of a file a model needs (no storage paths or internals)."""
    out: dict[str, Any] = {"id": record.id, "path": record.path, "size_bytes": record.size_bytes,
                           "mime_type": record.mime_type, "file_type": record.file_type,
                           "status": record.status, "version": record.version,
                           "description": record.description, "tags": list(record.tags),
                           "created_by": record.created_by,
                           "updated_at": format_time(record.updated_at)
                           if record.updated_at else None}
    if record.status == "infected":
        out["signature"] = record.signature
    return out


def log_summary(entry: LogEntry) -> dict[str, Any]:
    """One log entry as the API shapes it."""
    return dict(entry.raw)


def list_files(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """A page of files and the next cursor."""
    page = ws.files_page(path=args.get("path"), tags=args.get("tags") or (),
                         file_type=args.get("file_type"), limit=args.get("limit", 50),
                         cursor=args.get("cursor"))
    return {"files": [file_summary(f) for f in page.items], "next_cursor": page.next_cursor}


def _is_text(record: File) -> bool:
    mime = record.mime_type.split(";")[0].strip().lower()
    return mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith(("+json", "+xml"))


def read_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Text for text files (cut at ``max_chars``), a short-lived link for anything else."""
    record = ws.resolve(args["file"])
    max_chars = int(args.get("max_chars", 100_000))
    summary = file_summary(record)
    if record.status == "ready" and _is_text(record) and record.size_bytes <= max_chars * 4:
        try:
            text = ws.read_bytes(record.id).decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            return {"file": summary, "content": text[:max_chars],
                    "truncated": len(text) > max_chars}
    if record.status != "ready":
        return {"file": summary, "content": None,
                "note": f"the file is {record.status}; it cannot be read"}
    link = ws.download_link(record.id)
    reason = "binary file" if not _is_text(record) else "too large to return as text"
    return {"file": summary, "download_url": link.url,
            "expires_at": format_time(link.expires_at) if link.expires_at else None,
            "note": f"{reason}: fetch download_url (no credentials needed) before it expires"}


def write_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Upload text or base64 bytes to a virtual path."""
    path = args["path"]
    if not path.startswith("/") or path.endswith("/"):
        raise ValueError("path must start with / and end with a file name, like /notes/a.md")
    if args.get("encoding", "text") == "base64":
        try:
            data = base64.b64decode(args["content"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"content is not valid base64: {exc}") from None
    else:
        data = args["content"].encode("utf-8")
    record = ws.upload(data, path=path, filename=path.rsplit("/", 1)[1],
                       description=args.get("description"), tags=args.get("tags") or (),
                       overwrite=bool(args.get("overwrite", False)))
    return {"file": file_summary(record)}


def delete_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Soft-delete by id or path."""
    record = ws.delete_file(ws.resolve(args["file"]).id)
    return {"deleted": record.id, "path": record.path}


def search(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """The combined search, shaped compactly."""
    result = ws.search(args["query"], types=args.get("types"), limit=args.get("limit", 10))
    out: dict[str, Any] = {"query": result.query, "summary": result.summary}
    results = result.raw.get("results") or {}
    if "files" in results:
        out["files"] = [dict(hit.raw) for hit in result.files]
    if "memory" in results:
        out["memory"] = [{"line_number": m.line_number, "snippet": m.snippet,
                          "context": m.context} for m in result.memory]
    if "logs" in results:
        out["logs"] = [log_summary(e) for e in result.logs]
    return out


def read_memory(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """The memory's text and usage."""
    doc = ws.memory.get()
    return {"content": doc.content, "version": doc.version, "length": doc.length,
            "max_length": doc.max_length}


def append_memory(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Append, retrying on concurrent writers."""
    result = ws.memory.append(args["text"])
    out: dict[str, Any] = {"version": result.version, "length": result.length,
                           "max_length": result.max_length, "truncated": result.truncated}
    if result.message:
        out["message"] = result.message
    return out


def get_logs(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Recent log entries matching the filters."""
    entries = ws.logs(operation_type=args.get("operation_type"),
                      resource_type=args.get("resource_type"),
                      resource_id=args.get("resource_id"), agent_id=args.get("agent_id"),
                      since=args.get("since"), limit=args.get("limit", 20),
                      page_size=args.get("limit", 20))
    return {"entries": [log_summary(e) for e in entries]}


TOOL_FUNCTIONS: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
    "list_files": list_files, "read_file": read_file, "write_file": write_file,
    "delete_file": delete_file, "search": search, "read_memory": read_memory,
    "append_memory": append_memory, "get_logs": get_logs,
}
