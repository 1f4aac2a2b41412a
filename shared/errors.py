"""The one error hierarchy, rooted at ``WorkspaceError``, and its HTTP status table.

Backends translate provider errors into these at their edge, so the HTTP layer maps errors
in one place (``http_status``) by walking the class hierarchy. Anything that is not a
``WorkspaceError`` is a bug and becomes a generic, logged 500.
"""

from __future__ import annotations


class WorkspaceError(Exception):
    """Base of every error the service reports to a caller."""

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, object]:
        """The JSON body: always ``{"error": ...}``, plus safe structured extras."""
        return {"error": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        """Response headers the status needs (``Allow`` on a 405, ``Content-Range`` on a 416,
        ``Retry-After`` on a 429)."""
        return {}


class ConfigError(WorkspaceError, RuntimeError):
    """The deployment is misconfigured (a server-side fault, never the caller's)."""


class BadRequest(WorkspaceError, ValueError):
    """The request is malformed: wrong types, bad paths, bad cursors."""


class Unauthorized(WorkspaceError, PermissionError):
    """No valid credentials."""


class Forbidden(WorkspaceError, PermissionError):
    """The caller is known but the target is off limits (a private address, a bucket that
    is not on the allow-list), or an API key lacks the route's scope (``missing_scope``)."""


class NotFound(WorkspaceError, LookupError):
    """The resource does not exist, or belongs to someone else (we never say which)."""


class MethodNotAllowed(WorkspaceError):
    """The route exists but not for this HTTP method (``allowed``: the methods it has)."""

    def headers(self) -> dict[str, str]:
        allowed = self.extra.get("allowed")
        return {"Allow": ", ".join(allowed)} if isinstance(allowed, list) and allowed else {}


class Conflict(WorkspaceError):
    """A precondition failed: the path is taken, the version is stale, the file not ready."""


class PayloadTooLarge(WorkspaceError):
    """The body or file exceeds a configured limit."""


class RequestTimeout(WorkspaceError, TimeoutError):
    """The client stopped sending its request, or sends it too slowly (the local server's
    read timeouts); nothing it sent is kept."""


class TooManyRequests(WorkspaceError):
    """An API key is over its rate (``API_KEY_RATE_PER_MINUTE``); retry after
    ``retry_after`` whole seconds (also sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RangeNotSatisfiable(WorkspaceError):
    """A ``Range`` that selects no byte of the file (or that cannot be parsed)."""

    def __init__(self, size: int) -> None:
        super().__init__("the requested range is not satisfiable", size_bytes=size)
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


class UnsupportedMediaType(WorkspaceError):
    """The request's content type is not one this route accepts."""


class Infected(WorkspaceError):
    """The scanner found malware; the bytes were discarded."""

    def __init__(self, signature: str) -> None:
        super().__init__(f"file rejected: malware detected ({signature})", signature=signature)
        self.signature = signature


class ScannerUnavailable(WorkspaceError, ConnectionError):
    """The virus scanner could not give a verdict; nothing may be stored or served."""


class BackendUnavailable(WorkspaceError, ConnectionError):
    """A storage or metadata backend is down; the operation changed nothing."""


class UpstreamError(WorkspaceError, ConnectionError):
    """A remote source the caller named (a URL) failed: no answer, an error status, bad TLS."""


class UpstreamTimeout(UpstreamError, TimeoutError):
    """A remote source the caller named was too slow."""


class NotSupported(WorkspaceError):
    """This deployment's backends cannot do that (direct uploads without GCS)."""


class RetryLater(WorkspaceError, ConnectionError):
    """Another worker holds this event right now; raising makes the event be redelivered."""


_STATUS: dict[type[WorkspaceError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    RangeNotSatisfiable: 416,
    UnsupportedMediaType: 415,
    Infected: 422,
    TooManyRequests: 429,
    UpstreamError: 502,
    UpstreamTimeout: 504,
    ScannerUnavailable: 503,
    BackendUnavailable: 503,
    RetryLater: 503,
    NotSupported: 501,
    ConfigError: 500,
}


def http_status(error: WorkspaceError) -> int:
    """The HTTP status for an error, found through its class hierarchy (500 if none)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500
