"""Turning query-string arguments into ``FileQuery`` and ``LogQuery`` values, with checks.

The HTTP layer hands over its argument multidict as is; every rule about which filters
exist, how session scoping applies and what a valid limit is lives here.
"""

from __future__ import annotations

from typing import Protocol

from shared import validation as v
from shared.config import Settings
from shared.context import RequestContext
from shared.cursor import check_cursor
from shared.errors import BadRequest
from shared.models import FILE_TYPES, OPERATION_TYPES, RESOURCE_TYPES, FileQuery, LogQuery
from shared.timeutil import parse_query_time

FILE_LIST_ARGS = {"file_type", "tags", "created_by", "path", "session_id",
                  "include_all_sessions", "limit", "cursor"}
LOG_ARGS = {"operation_type", "resource_type", "resource_id", "agent_id", "task_id", "since",
            "until", "limit", "cursor", "format"}
SEARCH_ARGS = {"query", "file_type", "limit"}
COMBINED_SEARCH_ARGS = {"query", "types", "limit"}
LOG_FORMATS = ("json", "jsonl")
SEARCH_DEFAULT_LIMIT = 10


class Args(Protocol):
    """What a query-string multidict offers (werkzeug's ``MultiDict`` fits)."""

    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...

    def keys(self) -> object: ...


def _reject_unknown(args: Args, allowed: set[str]) -> None:
    unknown = sorted(set(args.keys()) - allowed)  # type: ignore[call-overload]
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}")


def _single(args: Args, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"query parameter {name!r} may appear only once")
    return values[0] if values else None


def file_query(args: Args, ctx: RequestContext, settings: Settings) -> FileQuery:
    """Filters for ``GET /files`` and ``/files/count``, with session scoping.

    A request carrying ``X-Session-Id`` sees that session's folder unless it asks for
    ``include_all_sessions=true``, names a ``session_id`` or gives an explicit ``path``.
    """
    _reject_unknown(args, FILE_LIST_ARGS)
    prefix: str | None = None
    raw_path = _single(args, "path")
    if raw_path:
        prefix = v.check_path_prefix(raw_path)
    session = _single(args, "session_id")
    all_sessions = v.parse_bool(_single(args, "include_all_sessions"), "include_all_sessions")
    if session:
        session_prefix = f"/sessions/{v.check_session_id(session)}/"
        if prefix and not prefix.startswith(session_prefix):
            raise BadRequest("path must lie inside the requested session's folder")
        prefix = prefix or session_prefix
    elif ctx.session_id and not all_sessions and not prefix:
        prefix = f"/sessions/{ctx.session_id}/"
    return FileQuery(
        file_type=v.check_choice(_single(args, "file_type"), FILE_TYPES, "file_type"),
        tags=v.check_tags(args.getlist("tags")),
        created_by=v.check_actor_id(_single(args, "created_by"), "created_by"),
        path_prefix=prefix,
        limit=v.parse_limit(_single(args, "limit"), settings.list_default_limit,
                            settings.list_max_limit),
        cursor=check_cursor("files", _single(args, "cursor")),
    )


def search_query(args: Args, settings: Settings) -> tuple[str, str | None, int]:
    """``(query, file_type, limit)`` for ``GET /files/search``; the words are checked later."""
    _reject_unknown(args, SEARCH_ARGS)
    return (
        _single(args, "query") or "",
        v.check_choice(_single(args, "file_type"), FILE_TYPES, "file_type"),
        v.parse_limit(_single(args, "limit"), SEARCH_DEFAULT_LIMIT, settings.list_max_limit),
    )


def combined_search_query(args: Args, settings: Settings) -> tuple[str, list[str], int]:
    """``(query, types, limit)`` for ``GET /search``; types and words are checked later."""
    _reject_unknown(args, COMBINED_SEARCH_ARGS)
    return (
        _single(args, "query") or "",
        args.getlist("types"),
        v.parse_limit(_single(args, "limit"), SEARCH_DEFAULT_LIMIT, settings.list_max_limit),
    )


def log_query(args: Args, settings: Settings) -> LogQuery:
    """Filters for ``GET /logs`` (``format`` is checked here and read by the handler)."""
    _reject_unknown(args, LOG_ARGS)
    v.check_choice(_single(args, "format"), LOG_FORMATS, "format")
    since = parse_query_time(_single(args, "since"), "since")
    until = parse_query_time(_single(args, "until"), "until")
    if since and until and since >= until:
        raise BadRequest("since must be earlier than until")
    return LogQuery(
        operation_type=v.check_choice(_single(args, "operation_type"), OPERATION_TYPES,
                                      "operation_type"),
        resource_type=v.check_choice(_single(args, "resource_type"), RESOURCE_TYPES,
                                     "resource_type"),
        resource_id=v.check_actor_id(_single(args, "resource_id"), "resource_id"),
        agent_id=v.check_actor_id(_single(args, "agent_id"), "agent_id"),
        task_id=v.check_actor_id(_single(args, "task_id"), "task_id"),
        since=since,
        until=until,
        limit=v.parse_limit(_single(args, "limit"), settings.list_default_limit,
                            settings.list_max_limit),
        cursor=check_cursor("logs", _single(args, "cursor")),
    )
