"""``ws``: the workspace from a shell. This module holds the parser, the exit codes and the
error handling; the commands themselves are in ``workspace_client.commands``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from workspace_client import commands, errors

DEFAULT_URL = "http://127.0.0.1:8080"

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH = 0, 1, 2, 3
EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_INFECTED, EXIT_UNAVAILABLE = 4, 5, 6, 7
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141

EPILOG = f"""\
environment:
  WORKSPACE_URL       the service's root URL (default {DEFAULT_URL})
  WORKSPACE_TOKEN     a user's JWT or a workspace API key (wsk_...)
  WORKSPACE_AGENT_ID  sent as X-Agent-Id (the log's agent_id and the default created_by)

exit codes:
  0  success
  1  any other error (a server error, an unexpected answer)
  2  bad usage or input the server refused as invalid (400, 413, 415)
  3  not authenticated or not allowed: missing, invalid or revoked token, missing scope (401, 403)
  4  no such file, version or key (404)
  5  conflict: the path is taken, the file is not ready, a stale memory version (409)
  6  the file is infected: the scanner's signature is printed (422)
  7  unavailable or rate limited, after retries: try again later (429, 503, network)
  130 interrupted (Ctrl-C)
  141 the output was closed early (ws ... | head)
"""


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options every command takes, before or after its name."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("connection and output")
    group.add_argument("--url", default=default, help="service root URL ($WORKSPACE_URL)")
    group.add_argument("--token", default=default, help="JWT or API key ($WORKSPACE_TOKEN)")
    group.add_argument("--agent-id", default=default,
                       help="X-Agent-Id for attribution ($WORKSPACE_AGENT_ID)")
    group.add_argument("--task-id", default=default, help="X-Task-Id for attribution")
    group.add_argument("--session", default=default, help="X-Session-Id (session scoping)")
    group.add_argument("--retries", type=int, default=default, metavar="N",
                       help="retries of a failed safe request (default 4; 0 fails fast)")
    group.add_argument("--json", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    """The ``ws`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ws", description="Files, memory, logs and API keys of an agent workspace.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        _common(p, suppress=True)
        return p

    p = command("put", "upload a file; waits for the virus scan and prints its id and status")
    p.add_argument("local", metavar="LOCAL", help="the file to upload ('-' reads stdin)")
    p.add_argument("--path", help="virtual path, or a folder ending in '/'")
    p.add_argument("--description")
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace the file at that path")
    p.add_argument("--metadata", help="a JSON object stored with the file")
    p.add_argument("--name", help="the stored file name (default: LOCAL's name)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--direct", dest="method", action="store_const", const="direct",
                     help="force the signed-URL upload (fails where the server lacks it)")
    how.add_argument("--multipart", dest="method", action="store_const", const="multipart",
                     help="force the multipart upload through the API")
    p.add_argument("--no-wait", action="store_true",
                   help="return at once; a direct upload is then still pending")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show the progress bar (default: on a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")

    p = command("ls", "list files, oldest first")
    p.add_argument("--type", dest="file_type",
                   choices=["image", "video", "audio", "document", "other"])
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable; all must match)")
    p.add_argument("--path", help="only files under this folder, like /reports/")
    p.add_argument("--created-by")
    p.add_argument("--limit", type=int, help="at most this many files")

    p = command("get", "download a file by id or path (to stdout, or -o FILE)")
    p.add_argument("file", metavar="ID_OR_PATH")
    p.add_argument("-o", "--output", help="write to this file ('-' is stdout)")

    p = command("stat", "show a file's record")
    p.add_argument("file", metavar="ID_OR_PATH")

    p = command("rm", "delete a file (its path is free at once)")
    p.add_argument("file", metavar="ID_OR_PATH")

    p = command("search", "search files, memory and logs")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--types", help="comma-separated: files,memory,logs (default all)")
    p.add_argument("--limit", type=int, help="results per type")

    p = command("mem", "the shared memory: show, set FILE, append TEXT")
    mem = p.add_subparsers(dest="mem_command", metavar="ACTION", required=True)
    m = mem.add_parser("show", help="print the memory")
    _common(m, suppress=True)
    m = mem.add_parser("set", help="replace the memory with a file's text ('-' reads stdin)")
    _common(m, suppress=True)
    m.add_argument("source", metavar="FILE")
    m.add_argument("--if-version", type=int, help="fail (exit 5) unless this is the version")
    m = mem.add_parser("append", help="append text ('-' reads stdin); never loses an append")
    _common(m, suppress=True)
    m.add_argument("text", metavar="TEXT")

    p = command("logs", "the operation log (oldest of the last --limit entries first)")
    p.add_argument("--op", choices=["create", "read", "update", "delete", "scan"])
    p.add_argument("--agent", help="only this agent's entries")
    p.add_argument("--task", help="only this task's entries")
    p.add_argument("--resource", help="only entries about this id (file_000001)")
    p.add_argument("--type", dest="resource_type", choices=["file", "memory", "workspace"])
    p.add_argument("--since", help="only entries at or after this ISO 8601 time")
    p.add_argument("--limit", type=int, default=20, help="how many entries (default 20)")
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep printing new entries as they are written (Ctrl-C stops)")
    p.add_argument("--interval", type=float, default=1.0, help="--follow's poll interval (s)")

    p = command("keys", "API keys: create NAME --scope S..., ls, revoke ID")
    keys = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    k = keys.add_parser("create", help="create a key; its secret is printed once")
    _common(k, suppress=True)
    k.add_argument("name", metavar="NAME")
    k.add_argument("--scope", action="append", required=True,
                   help="files:read, files:write, memory:read, memory:write, logs:read, media")
    k.add_argument("--agent", help="the key's agent id (its default X-Agent-Id)")
    k.add_argument("--expires-days", type=int, help="expire after this many days")
    k = keys.add_parser("ls", help="list keys (never their secrets)")
    _common(k, suppress=True)
    k = keys.add_parser("revoke", help="revoke a key")
    _common(k, suppress=True)
    k.add_argument("key_id", metavar="ID")

    command("info", "the workspace's id and counts")
    command("mcp", "serve the workspace tools over MCP on stdio (needs workspace-client[mcp])")
    return parser


def exit_code(error: errors.WorkspaceError) -> int:
    """The documented exit code for an error."""
    table: list[tuple[type[Exception], int]] = [
        (errors.Infected, EXIT_INFECTED), (errors.Unauthorized, EXIT_AUTH),
        (errors.Forbidden, EXIT_AUTH), (errors.NotFound, EXIT_NOT_FOUND),
        (errors.Conflict, EXIT_CONFLICT), (errors.RateLimited, EXIT_UNAVAILABLE),
        (errors.Unavailable, EXIT_UNAVAILABLE), (errors.ScanTimeout, EXIT_UNAVAILABLE),
        (errors.UpstreamTimeout, EXIT_UNAVAILABLE), (errors.BadRequest, EXIT_USAGE),
        (errors.TooLarge, EXIT_USAGE), (errors.UnsupportedMediaType, EXIT_USAGE),
    ]
    for cls, code in table:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR


def report(error: errors.WorkspaceError, as_json: bool) -> None:
    """Print an error on stderr (as JSON with ``--json``)."""
    details = {"error": error.message, "status": error.status}
    if isinstance(error, errors.Infected):
        details["signature"] = error.signature
    if isinstance(error, (errors.RateLimited, errors.Unavailable)) and error.retry_after:
        details["retry_after"] = error.retry_after
    if as_json:
        print(json.dumps(details), file=sys.stderr)
        return
    print(f"ws: {error.message}", file=sys.stderr)
    if isinstance(error, errors.Infected):
        print(f"ws: infected: {error.signature}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``ws`` script; exits with the documented code."""
    args = build_parser().parse_args(argv)
    args.url = args.url or os.environ.get("WORKSPACE_URL") or DEFAULT_URL
    args.token = args.token or os.environ.get("WORKSPACE_TOKEN")
    args.agent_id = args.agent_id or os.environ.get("WORKSPACE_AGENT_ID")
    if not args.token:
        print("ws: no token: set WORKSPACE_TOKEN or pass --token (a JWT or a wsk_ API key)",
              file=sys.stderr)
        sys.exit(EXIT_AUTH)
    try:
        code = commands.run(args)
    except errors.WorkspaceError as exc:
        report(exc, args.json)
        code = exit_code(exc)
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except (OSError, ValueError) as exc:  # a local file that cannot be read, bad JSON ...
        print(f"ws: {exc}", file=sys.stderr)
        code = EXIT_USAGE if isinstance(exc, ValueError) else EXIT_ERROR
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    if code == EXIT_BROKEN_PIPE:  # the reader left: no traceback, no flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
