"""The client's errors, rooted at ``WorkspaceError``: one class per row of the API's error table.

``error_from_answer(status, body, headers)`` picks the class for an HTTP answer. Each class also
inherits the nearest built-in (``NotFound`` is a ``LookupError``, ``Unavailable`` a
``ConnectionError``), so callers can catch either. ``str(error)`` is the API's own message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

_SCOPE_IN_TEXT = re.compile(
    r"\b(?:files:read|files:write|memory:read|memory:write|logs:read|media)\b")


class WorkspaceError(Exception):
    """Any failure the client reports; ``status`` is the HTTP status when there was one."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.body: dict[str, Any] = dict(body or {})


class BadRequest(WorkspaceError, ValueError):
    """400: malformed input; nothing was changed."""

    status = 400


class Unauthorized(WorkspaceError, PermissionError):
    """401: the token or key is missing, expired, revoked or invalid."""

    status = 401


class Forbidden(WorkspaceError, PermissionError):
    """403: the key lacks a scope (``scope`` when the server names it), or a refused source."""

    status = 403

    @property
    def scope(self) -> str | None:
        """The missing scope: the answer's ``scope`` field, or the scope its message names."""
        value = self.body.get("missing_scope") or self.body.get("scope")
        if value:
            return str(value)
        named = _SCOPE_IN_TEXT.search(self.message)
        return named.group(0) if named else None


class NotFound(WorkspaceError, LookupError):
    """404: no such file, version or key (another user's ids look exactly the same)."""

    status = 404


class MethodNotAllowed(WorkspaceError):
    """405: the path exists but not with this method."""

    status = 405


class Conflict(WorkspaceError):
    """409: a precondition failed (path taken, file not ready, memory over budget ...)."""

    status = 409

    @property
    def path(self) -> str | None:
        """The virtual path that is taken or busy."""
        return self.body.get("path")

    @property
    def file_id(self) -> str | None:
        """The live file holding the path."""
        return self.body.get("file_id")


class VersionConflict(Conflict):
    """409 on memory: the version the write was based on is stale."""

    @property
    def current_version(self) -> int | None:
        """The committed memory version."""
        value = self.body.get("current_version")
        return int(value) if value is not None else None


class TooLarge(WorkspaceError):
    """413: over ``MAX_FILE_SIZE_MB``, the quota or a field limit (``max_bytes`` when given)."""

    status = 413

    @property
    def max_bytes(self) -> int | None:
        """The configured limit in bytes, when the answer gives it."""
        value = self.body.get("max_bytes")
        return int(value) if value is not None else None


class UnsupportedMediaType(WorkspaceError):
    """415: the body has the wrong content type."""

    status = 415


class Infected(WorkspaceError):
    """422 (or a direct upload's ``infected`` verdict): the scanner found malware."""

    status = 422

    def __init__(self, message: str, *, signature: str | None = None,
                 file_id: str | None = None, status: int | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.signature = signature or self.body.get("signature") or "unknown"
        self.file_id = file_id


class RateLimited(WorkspaceError):
    """429: this key is over its rate; ``retry_after`` is how many seconds to wait."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class ServerError(WorkspaceError):
    """500 or another unexpected status: a server bug or a misconfigured deployment."""

    status = 500


class NotSupported(WorkspaceError):
    """501: this deployment lacks the feature (direct uploads without GCS)."""

    status = 501


class UpstreamError(WorkspaceError, ConnectionError):
    """502: a remote source the request named failed."""

    status = 502


class Unavailable(WorkspaceError, ConnectionError):
    """503: the scanner or a backend is down (nothing was changed); retry later."""

    status = 503

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class UpstreamTimeout(WorkspaceError, TimeoutError):
    """504: a remote source the request named was too slow."""

    status = 504


class ConnectionFailed(Unavailable):
    """The service could not be reached at all (no HTTP answer)."""

    status = None


class ScanTimeout(WorkspaceError, TimeoutError):
    """A direct upload was still ``pending`` when ``wait`` gave up; the file may still land."""


class UploadRejected(WorkspaceError):
    """A direct upload was quarantined for not matching its reservation (size or name)."""


_BY_STATUS: dict[int, type[WorkspaceError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 413: TooLarge, 415: UnsupportedMediaType, 422: Infected, 429: RateLimited,
    501: NotSupported, 502: UpstreamError, 503: Unavailable, 504: UpstreamTimeout,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_answer(status: int, body: Any, headers: Mapping[str, str]) -> WorkspaceError:
    """The typed error for an HTTP error answer (body: the decoded JSON, or anything else)."""
    data: dict[str, Any] = body if isinstance(body, dict) else {}
    message = str(data.get("error") or f"HTTP {status}")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else WorkspaceError
    if cls is Conflict and "current_version" in data:
        cls = VersionConflict
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if cls in (RateLimited, Unavailable):
        return cls(message, retry_after=retry_after, status=status, body=data)  # type: ignore[call-arg]
    return cls(message, status=status, body=data)
