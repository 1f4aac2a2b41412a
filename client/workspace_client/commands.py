"""The ``ws`` commands: each takes the parsed arguments and a ``Workspace`` and prints a
human-readable result, or JSON with ``--json``. Errors propagate to ``cli.main``, which maps
them to the documented exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, Callable

from workspace_client.client import Workspace
from workspace_client.models import File, LogEntry, format_time
from workspace_client.progress import ProgressBar, human_size
from workspace_client.retry import RetryPolicy


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code."""
    retry = RetryPolicy(attempts=max(args.retries, 0) + 1) if args.retries is not None else None
    workspace = Workspace(args.url, args.token, agent_id=args.agent_id, task_id=args.task_id,
                          session_id=args.session, retry=retry)
    with workspace:
        return COMMANDS[args.command](args, workspace)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _file_line(record: File) -> str:
    tags = f"  [{', '.join(record.tags)}]" if record.tags else ""
    return (f"{record.id}  {record.status:<8} {human_size(record.size_bytes):>10}  "
            f"v{record.version:<3} {record.path}{tags}")


def put(args: argparse.Namespace, ws: Workspace) -> int:
    """Upload, wait for the verdict, print the id and status."""
    metadata = json.loads(args.metadata) if args.metadata else None
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("--metadata must be a JSON object")
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and not args.json)
    source: Any = sys.stdin.buffer if args.local == "-" else args.local
    record = ws.upload(source, path=args.path, filename=args.name,
                       description=args.description, tags=args.tag, overwrite=args.overwrite,
                       metadata=metadata, method=args.method or "auto", wait=not args.no_wait,
                       progress=ProgressBar("upload") if show else None)
    if args.json:
        _print_json(record.raw)
    else:
        print(_file_line(record))
    return 0


def ls(args: argparse.Namespace, ws: Workspace) -> int:
    """List files."""
    records = ws.files(file_type=args.file_type, tags=args.tag, path=args.path,
                       created_by=args.created_by, limit=args.limit)
    if args.json:
        _print_json([r.raw for r in records])
        return 0
    for record in records:
        print(_file_line(record))
    return 0


def get(args: argparse.Namespace, ws: Workspace) -> int:
    """Download to stdout or a file."""
    record = ws.resolve(args.file)
    if not args.output or args.output == "-":
        ws.download(record.id, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    written = ws.download(record.id, args.output, progress=ProgressBar("download")
                          if sys.stderr.isatty() else None)
    if args.json:
        _print_json({"file": record.raw, "output": args.output, "bytes": written})
    else:
        print(f"{record.id} {record.path} -> {args.output} ({human_size(written)})")
    return 0


def stat(args: argparse.Namespace, ws: Workspace) -> int:
    """Print one record."""
    record = ws.resolve(args.file)
    if args.json:
        _print_json(record.raw)
        return 0
    for key in ("id", "path", "status", "version", "size_bytes", "mime_type", "file_type",
                "checksum", "description", "tags", "created_by", "created_at", "updated_at"):
        print(f"{key + ':':<13} {record.raw.get(key)}")
    if record.signature:
        print(f"{'signature:':<13} {record.signature}")
    return 0


def rm(args: argparse.Namespace, ws: Workspace) -> int:
    """Delete a file."""
    record = ws.delete_file(ws.resolve(args.file).id)
    if args.json:
        _print_json(record.raw)
    else:
        print(f"deleted {record.id} {record.path}")
    return 0


def search(args: argparse.Namespace, ws: Workspace) -> int:
    """The combined search."""
    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    result = ws.search(args.query, types=types, limit=args.limit)
    if args.json:
        _print_json(result.raw)
        return 0
    if "files" in (result.raw.get("results") or {}):
        print(f"files ({len(result.files)}):")
        for hit in result.files:
            print(f"  {hit.id}  {hit.path}  {hit.description}")
    if "memory" in (result.raw.get("results") or {}):
        print(f"memory ({len(result.memory)}):")
        for match in result.memory:
            print(f"  line {match.line_number}: {match.snippet}")
    if "logs" in (result.raw.get("results") or {}):
        print(f"logs ({len(result.logs)}):")
        for entry in result.logs:
            print(f"  {_log_line(entry)}")
    return 0


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    with open(source, encoding="utf-8") as handle:
        return handle.read()


def mem(args: argparse.Namespace, ws: Workspace) -> int:
    """show / set / append."""
    if args.mem_command == "show":
        doc = ws.memory.get()
        if args.json:
            _print_json(doc.raw)
        else:
            sys.stdout.write(doc.content + ("" if doc.content.endswith("\n") or not doc.content
                                            else "\n"))
        return 0
    if args.mem_command == "set":
        result = ws.memory.set(_read_text(args.source), expected_version=args.if_version)
    else:
        result = ws.memory.append(sys.stdin.read() if args.text == "-" else args.text)
    if args.json:
        _print_json(result.raw)
    else:
        print(f"memory version {result.version}: {result.length}/{result.max_length} characters")
        if result.truncated:
            print(f"ws: warning: {result.message or 'the memory was truncated'}", file=sys.stderr)
    return 0


def _log_line(entry: LogEntry) -> str:
    who = " ".join(f"{k}={v}" for k, v in (("agent", entry.agent_id), ("task", entry.task_id))
                   if v)
    details = " ".join(f"{k}={v}" for k, v in entry.details.items()
                       if k in ("filename", "path", "version", "signature", "verdict", "via",
                                "length", "operation"))
    stamp = format_time(entry.timestamp) if entry.timestamp else "-"
    parts = [stamp, f"{entry.operation_type:<6}", entry.resource_type,
             entry.resource_id or "-", who, details]
    return "  ".join(p for p in parts if p)


def logs(args: argparse.Namespace, ws: Workspace) -> int:
    """Print the log, oldest first; ``--follow`` keeps polling for new entries."""
    filters = {"operation_type": args.op, "agent_id": args.agent, "task_id": args.task,
               "resource_id": args.resource, "resource_type": args.resource_type,
               "since": args.since}
    show: Callable[[LogEntry], None] = (
        (lambda e: print(json.dumps(e.raw, ensure_ascii=False), flush=True)) if args.json
        else (lambda e: print(_log_line(e), flush=True)))
    entries: Iterable[LogEntry]
    if args.follow:
        entries = ws.follow_logs(backlog=args.limit, interval=args.interval, **filters)
    else:
        entries = reversed(list(ws.logs(limit=args.limit, page_size=args.limit, **filters)))
    for entry in entries:
        show(entry)
    return 0


def keys(args: argparse.Namespace, ws: Workspace) -> int:
    """create / ls / revoke."""
    if args.keys_command == "create":
        created = ws.keys.create(args.name, args.scope, expires_in_days=args.expires_days,
                                 agent_id=args.agent)
        if args.json:
            _print_json({**created.info.raw, "key": created.key})
        else:
            print(created.key)
            print(f"ws: key {created.info.id} ({', '.join(created.info.scopes)}): the secret "
                  "above is shown only this once", file=sys.stderr)
        return 0
    if args.keys_command == "ls":
        listed = ws.keys.list()
        if args.json:
            _print_json([k.raw for k in listed])
            return 0
        for key in listed:
            used = format_time(key.last_used_at) if key.last_used_at else "never used"
            print(f"{key.id}  {key.prefix}...  {key.name}  {','.join(key.scopes)}  "
                  f"agent={key.agent_id or '-'}  {used}")
        return 0
    ws.keys.revoke(args.key_id)
    print(json.dumps({"revoked": args.key_id}) if args.json else f"revoked {args.key_id}")
    return 0


def info(args: argparse.Namespace, ws: Workspace) -> int:
    """The workspace's id and counts."""
    summary = ws.info()
    if args.json:
        _print_json(summary.raw)
    else:
        print(f"workspace {summary.workspace_id}: {summary.file_count} files, memory "
              f"{summary.memory_length} characters, {summary.log_count} log entries")
    return 0


def mcp(args: argparse.Namespace, ws: Workspace) -> int:
    """Serve the tools over MCP on stdio."""
    from workspace_client.mcp_server import McpUnavailable, serve

    try:
        serve(ws)
    except McpUnavailable as exc:
        print(f"ws: {exc}", file=sys.stderr)
        return 1
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Workspace], int]] = {
    "put": put, "ls": ls, "get": get, "stat": stat, "rm": rm, "search": search, "mem": mem,
    "logs": logs, "keys": keys, "info": info, "mcp": mcp,
}
