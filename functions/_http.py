"""HTTP glue for the function modules: ``Router`` (routing, auth, scopes, CORS, errors → JSON).

Each deployed function declares its routes on a ``Router`` and calls ``dispatch``. Every
route names its ``shared.scopes.Access`` (public, a user's token only, or the API-key scopes
it needs); ``dispatch`` authenticates (a JWT or a ``wsk_`` key, ``factory.credentials``)
and checks that decision in one place, before the handler runs. Routes
are matched on the full path (``SCRIPT_NAME`` + ``PATH_INFO``), so a function answers the
same whether a load balancer forwards ``/api/assistant/workspace/files/...`` to it or the
local server mounts it under that prefix. Errors are mapped in one place through
``shared.errors.http_status``; anything else is logged and answered with a generic 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode

from flask import Request, Response
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import BaseConverter, Map, Rule

from shared import factory
from shared.config import get_settings
from shared.context import RequestContext
from shared.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    WorkspaceError,
    http_status,
)
from shared.jsonbody import encode_json
from shared.logging_config import log_access, request_scope
from shared.scopes import Access

log = logging.getLogger("workspace.http")

Handler = Callable[..., Any]
EXPOSED_HEADERS = ("X-Next-Cursor, Link, Content-Disposition, ETag, Retry-After, X-Total-Count, "
                   "X-Total-Is-Lower-Bound, Content-Range, Accept-Ranges")
ALLOWED_HEADERS = ("Authorization, Content-Type, If-Match, If-None-Match, Range, X-Agent-Id, "
                   "X-Task-Id, X-Session-Id")


@dataclass(frozen=True)
class _Endpoint:
    handler: Handler
    access: Access
    params: frozenset[str]

    @property
    def public(self) -> bool:
        return self.access.public


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response that is never cached."""
    response = Response(encode_json(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def paged(items: list[Any], next_cursor: str | None, request: Request) -> Response:
    """A bare JSON array (the spec's shape) with the next cursor in headers."""
    return json_response(items, headers=next_page_headers(next_cursor, request))


def next_page_headers(next_cursor: str | None, request: Request) -> dict[str, str]:
    """``X-Next-Cursor`` and a ``Link`` to the next page (none on the last page)."""
    headers: dict[str, str] = {}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
        args = request.args.copy()
        args["cursor"] = next_cursor
        # Percent-encoded: raw values could break the URL (``&``, ``#``) or the header
        # (non-Latin-1 text cannot be sent in an HTTP header at all).
        query = urlencode(list(args.items(multi=True)))
        headers["Link"] = f'<{request.script_root}{request.path}?{query}>; rel="next"'
    return headers


def framework_error(exc: HTTPException) -> Response:
    """JSON for errors Flask raises before a function runs (a path its rule can't match)."""
    status = exc.code or 500
    message = "no such endpoint" if status == 404 else (exc.name or "error").lower()
    return json_response({"error": message}, status)


def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing (413) to read more than ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    data = request.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    return data


class _MatchOnlyRule(Rule):
    """A rule that matches and never builds a URL. werkzeug generates and compiles a URL
    builder for each rule as it is added, about half the import time of a function's routes
    (a cold start's), and the router never asks for one."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., Any]:
        def unused(*_args: Any, **_kwargs: Any) -> Any:
            raise NotImplementedError("the router matches URLs; it does not build them")
        return unused


class Router:
    """Routes of one function; ``dispatch`` is the whole request lifecycle."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        """``reserved``: literal path segments (``count``) that an ``<id:...>`` never matches,
        so ``PUT /files/count`` is a 405 for that route, not a 404 for a file named count."""
        names = "|".join(re.escape(name) for name in reserved)

        class IdConverter(BaseConverter):
            regex = f"(?!(?:{names})$)[^/]+" if names else "[^/]+"

        self._map = Map(strict_slashes=False, merge_slashes=False,
                        converters={"id": IdConverter})
        self._methods: set[str] = {"OPTIONS"}

    def route(self, rule: str, methods: Iterable[str] = ("GET",), *, access: Access,
              params: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Register ``handler(request, ctx, **url_args)`` for ``rule``; ``access`` (no
        default: every route decides) says who may call it (``shared.scopes``); ``params``
        are the query parameters it reads: any other is a 400 naming it, on every route."""
        methods = tuple(methods)
        if not isinstance(access, Access):
            raise TypeError(f"{rule}: access must be a shared.scopes.Access")

        def register(handler: Handler) -> Handler:
            endpoint = _Endpoint(handler, access, frozenset(params))
            self._map.add(_MatchOnlyRule(rule, methods=methods, endpoint=endpoint))
            self._methods.update(methods)
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        """Answer one request (its log lines carry its trace; it ends with an access line)."""
        with request_scope(request.method, (request.script_root or "") + request.path,
                           request.headers, request.remote_addr,
                           request.environ.get("SERVER_PROTOCOL")):
            response = self._dispatch(request)
            log_access(response.status_code, response.content_length)
            return response

    def _dispatch(self, request: Request) -> Response:
        """Preflight, match, authenticate, call, map errors, add CORS."""
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return self._cors(Response(status=204), origin, preflight=True)
        try:
            response = self._call(request)
        except WorkspaceError as exc:
            status = http_status(exc)
            if status >= 500:
                log.error("request failed: %s", exc.message, extra={"json_fields": {
                    "event": "request_failed", "error_class": type(exc).__name__}})
            response = json_response(exc.body(), status, exc.headers())
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = json_response({"error": "internal error"}, 500)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return _streamed(self._cors(response, origin, preflight=False))

    def _call(self, request: Request) -> Response:
        _check_query_string(request.query_string)
        # HEAD runs the GET handler (werkzeug drops the body); handlers whose GET is a
        # logged read (content) look at the method and do not log a HEAD.
        adapter = self._map.bind("workspace", url_scheme=request.scheme)
        full_path = (request.script_root or "") + request.path
        try:
            endpoint, url_args = adapter.match(full_path, method=request.method)
        except WerkzeugMethodNotAllowed as exc:
            allowed = sorted(set(exc.valid_methods or ()))
            raise MethodNotAllowed("method not allowed", allowed=allowed) from exc
        except WerkzeugNotFound as exc:
            raise NotFound("no such endpoint") from exc
        assert isinstance(endpoint, _Endpoint)
        ctx = None
        if not endpoint.public:
            principal = factory.credentials().authenticate(request.headers.get("Authorization"))
            ctx = RequestContext.from_headers(
                principal.user_id, request.headers, key_id=principal.key_id,
                scopes=principal.scopes, default_agent=principal.agent_id)
            endpoint.access.check(ctx, request.args)
        unknown = sorted(set(request.args.keys()) - endpoint.params)
        if unknown:
            raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}")
        result = endpoint.handler(request, ctx, **url_args)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            body, status = result
            return json_response(body, status)
        return json_response(result)

    def _cors(self, response: Response, origin: str | None, preflight: bool) -> Response:
        if origin and origin in get_settings().cors_allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            if preflight:
                response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(self._methods))
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response.headers["Access-Control-Max-Age"] = "600"
        response.headers.add("Vary", "Origin")
        return response


def _check_query_string(raw: bytes) -> None:
    """400 for a query string that is not UTF-8 once percent-decoded: werkzeug would replace
    the bad bytes with U+FFFD and a filter would silently match something else."""
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the query string is not valid UTF-8") from exc


def _streamed(response: Response) -> Response:
    """The same answer, marked as streamed.

    functions-framework reads the whole request body into memory after any non-streamed
    response (its ``read_request`` hook), which would undo every early refusal: a 413 from
    Content-Length, a 401 before an upload. A streamed answer skips that; the server then
    discards the unread rest of the body in small pieces.
    """
    if not response.is_streamed:
        response.response = iter([response.get_data()])
    return response
