"""Turning query-string arguments into ``FileQuery``, ``FolderQuery`` and ``LogQuery`` values.

The HTTP layer hands over its argument multidict as is; every rule about which filters
exist, how session scoping applies and what a valid limit is lives here.

Session scoping is the same on every listing and search (``/files``, ``/files/count``,
``/folders``, ``/files/search``, ``/search``, ``/logs``): a request with ``X-Session-Id``
sees only that session (files under ``/sessions/{id}/``, log entries written in it) unless
it names another with ``session_id`` or asks for ``include_all_sessions=true``. A session
is a filter for one user's own convenience, not a security boundary: every session of a
workspace belongs to the same user, who may always look across them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared import text_index
from shared import validation as v
from shared.config import Settings
from shared.context import RequestContext
from shared.cursor import check_cursor, decode_cursor, encode_cursor
from shared.errors import BadRequest
from shared.timeutil import parse_query_time

# The models (twenty dataclasses, tens of milliseconds) load on the first parse, not when a
# function module declares its routes with the argument sets below: cold starts.
if TYPE_CHECKING:
    from shared.models import FileQuery, LogQuery

FILE_LIST_ARGS = {"file_type", "tags", "created_by", "path", "session_id",
                  "include_all_sessions", "limit", "cursor", "deleted"}
SCOPE_ARGS = {"session_id", "include_all_sessions"}
LOG_ARGS = {"operation_type", "resource_type", "resource_id", "agent_id", "task_id", "since",
            "until", "limit", "cursor", "format", "q"} | SCOPE_ARGS
SEARCH_ARGS = {"query", "file_type", "limit"} | SCOPE_ARGS
COMBINED_SEARCH_ARGS = {"query", "types", "limit"} | SCOPE_ARGS
CONTENT_ARGS = {"redirect", "inline", "version"}
FOLDER_ARGS = {"path", "limit", "cursor"} | SCOPE_ARGS
FOLDER_MAX_LIMIT = 200  # each sub-folder on a page costs a count (a query on Firestore)
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


def session_folder(session_id: str | None) -> str | None:
    """The folder a session's files live in."""
    return f"/sessions/{session_id}/" if session_id else None


def session_scope(args: Args, ctx: RequestContext, *, explicit_path: bool = False) -> str | None:
    """The one session a request is limited to, or None for every session.

    ``session_id`` names one; ``include_all_sessions=true`` lifts the ``X-Session-Id``
    default; so does an explicit ``path`` on ``/files`` (a path is already a choice).
    """
    session = _single(args, "session_id")
    all_sessions = v.parse_bool(_single(args, "include_all_sessions"), "include_all_sessions")
    if session:  # the narrower choice wins over include_all_sessions
        return v.check_session_id(session)
    if all_sessions or explicit_path:
        return None
    return ctx.session_id


def _scoped_prefix(args: Args, ctx: RequestContext, prefix: str | None) -> str | None:
    """The folder a listing covers: the explicit ``path``, else the session's folder."""
    session_prefix = session_folder(session_scope(args, ctx, explicit_path=bool(prefix)))
    if session_prefix:
        if prefix and not prefix.startswith(session_prefix):
            raise BadRequest("path must lie inside the requested session's folder")
        prefix = prefix or session_prefix
    return prefix


def file_query(args: Args, ctx: RequestContext, settings: Settings) -> FileQuery:
    """Filters for ``GET /files`` and ``/files/count``, with session scoping (see above)."""
    from shared.models import FILE_TYPES, FileQuery

    _reject_unknown(args, FILE_LIST_ARGS)
    raw_path = _single(args, "path")
    prefix = _scoped_prefix(args, ctx, v.check_path_prefix(raw_path) if raw_path else None)
    return FileQuery(
        file_type=v.check_choice(_single(args, "file_type"), FILE_TYPES, "file_type"),
        tags=v.check_tags(args.getlist("tags")),
        created_by=v.check_actor_id(_single(args, "created_by"), "created_by"),
        path_prefix=prefix,
        limit=v.parse_limit(_single(args, "limit"), settings.list_default_limit,
                            settings.list_max_limit),
        cursor=check_cursor("files", _single(args, "cursor")),
        deleted=v.parse_bool(_single(args, "deleted"), "deleted"),
    )


@dataclass(frozen=True)
class FolderQuery:
    """``GET /folders``: the folder, the page size, and the last child of the previous page
    (its name, and whether it is a folder)."""

    prefix: str
    limit: int
    after: tuple[str, bool] | None = None


def folder_query(args: Args, ctx: RequestContext, settings: Settings) -> FolderQuery:
    """``GET /folders``: ``path`` (a folder ending in '/', default the root or the session's
    folder, scoped as ``/files``), ``limit`` (at most ``FOLDER_MAX_LIMIT``) and ``cursor``."""
    _reject_unknown(args, FOLDER_ARGS)
    raw_path = _single(args, "path")
    prefix = _scoped_prefix(args, ctx,
                            v.check_folder_path(raw_path, "path") if raw_path else None)
    after = decode_cursor("folders", _single(args, "cursor"), 2)
    if after is not None and (after[1] not in ("d", "f") or not after[0] or "/" in after[0]):
        raise BadRequest("invalid cursor")
    return FolderQuery(
        prefix=prefix or "/",
        limit=v.parse_limit(_single(args, "limit"), min(settings.list_default_limit,
                                                        FOLDER_MAX_LIMIT), FOLDER_MAX_LIMIT),
        after=(after[0], after[1] == "d") if after else None,
    )


def folder_cursor(after: tuple[str, bool] | None) -> str | None:
    """The opaque cursor of ``GET /folders``'s next page."""
    return encode_cursor("folders", [after[0], "d" if after[1] else "f"]) if after else None


@dataclass(frozen=True)
class SearchQuery:
    """``GET /files/search`` and ``GET /search``; the words and types are checked later."""

    text: str
    limit: int
    session_id: str | None = None
    file_type: str | None = None
    types: tuple[str, ...] = ()


def search_query(args: Args, ctx: RequestContext, settings: Settings) -> SearchQuery:
    """``GET /files/search``: words, file type, limit and session scope."""
    from shared.models import FILE_TYPES

    _reject_unknown(args, SEARCH_ARGS)
    return SearchQuery(
        text=_single(args, "query") or "",
        limit=v.parse_limit(_single(args, "limit"), SEARCH_DEFAULT_LIMIT,
                            settings.list_max_limit),
        session_id=session_scope(args, ctx),
        file_type=v.check_choice(_single(args, "file_type"), FILE_TYPES, "file_type"),
    )


def combined_search_query(args: Args, ctx: RequestContext, settings: Settings) -> SearchQuery:
    """``GET /search``: words, types, limit (per type) and session scope."""
    _reject_unknown(args, COMBINED_SEARCH_ARGS)
    return SearchQuery(
        text=_single(args, "query") or "",
        limit=v.parse_limit(_single(args, "limit"), SEARCH_DEFAULT_LIMIT,
                            settings.list_max_limit),
        session_id=session_scope(args, ctx),
        types=tuple(args.getlist("types")),
    )


@dataclass(frozen=True)
class ContentQuery:
    """``GET /files/{id}/content``: redirect (None: the backend's default), inline, version."""

    redirect: bool | None
    inline: bool
    version: int | None


def content_query(args: Args) -> ContentQuery:
    """The content route's parameters, checked."""
    _reject_unknown(args, CONTENT_ARGS)
    redirect = _single(args, "redirect")
    version = _single(args, "version")
    return ContentQuery(
        redirect=None if redirect in (None, "") else v.parse_bool(redirect, "redirect"),
        inline=v.parse_bool(_single(args, "inline"), "inline"),
        version=v.parse_version(version, "version") if version else None,
    )


def _log_text(raw: str | None) -> str | None:
    """``q`` on ``/logs``: words, checked as a search query is (absent or empty: none)."""
    if not raw:
        return None
    text = v.check_query(raw, "q")
    if not text_index.query_words(text):
        raise BadRequest("q has no searchable words")
    return text


def log_query(args: Args, ctx: RequestContext, settings: Settings) -> LogQuery:
    """Filters for ``GET /logs`` (``format`` is checked here and read by the handler)."""
    from shared.models import OPERATION_TYPES, RESOURCE_TYPES, LogQuery

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
        session_id=session_scope(args, ctx),
        text=_log_text(_single(args, "q")),
        since=since,
        until=until,
        limit=v.parse_limit(_single(args, "limit"), settings.list_default_limit,
                            settings.list_max_limit),
        cursor=check_cursor("logs", _single(args, "cursor")),
    )
