"""Where GCS provider errors become service errors: ``translate``, ``edge``, ``is_transient``.

404 → ``NotFound``, 401/403 → ``ConfigError``, 408/429/5xx, refused connections, timeouts and
exhausted retries → ``BackendUnavailable``; anything else is a bug and passes through.

A 412 means nothing on its own: which precondition failed depends on the call. So ``edge``
takes the error a 412 stands for at that call site (``precondition=``): a create-only write
says "a blob already exists at that key", a copy pinned to its source generation says the
source changed. Calls that expect a 412 as an answer (a pinned delete whose generation was
replaced) catch ``PreconditionFailed`` themselves, inside the edge.
"""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator

import google.auth.exceptions
import requests
import urllib3.exceptions
from google.api_core import exceptions as gexc
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

from shared.errors import BackendUnavailable, ConfigError, Conflict, NotFound, WorkspaceError

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
PROVIDER_ERRORS = (
    gexc.GoogleAPIError, InvalidResponse, DataCorruption, requests.RequestException,
    urllib3.exceptions.HTTPError, http.client.HTTPException, ConnectionError, TimeoutError,
    google.auth.exceptions.GoogleAuthError,
)
_TRANSIENT_ERRORS = (
    gexc.RetryError, gexc.ServerError, gexc.TooManyRequests, requests.ConnectionError,
    requests.Timeout, requests.exceptions.ChunkedEncodingError, ConnectionError, TimeoutError,
    urllib3.exceptions.HTTPError, http.client.HTTPException,
    google.auth.exceptions.TransportError, google.auth.exceptions.RefreshError,  # retryable
)
PRECONDITION_FAILED = "a storage precondition failed"


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a provider error, when it has one."""
    if isinstance(exc, InvalidResponse):
        return getattr(exc.response, "status_code", None)
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def translate(exc: BaseException,
              precondition: WorkspaceError | None = None) -> WorkspaceError | None:
    """The service error for a provider error, or None when it is a bug to let through.

    ``precondition`` is what a 412 means at the calling site (a generic ``Conflict`` when
    the site did not say).
    """
    if isinstance(exc, WorkspaceError):
        return exc
    if isinstance(exc, DataCorruption):
        return BackendUnavailable("storage checksum mismatch; retry the transfer")
    status = status_of(exc)
    if isinstance(exc, gexc.NotFound) or status == 404:
        return NotFound("blob not found")
    if isinstance(exc, gexc.PreconditionFailed) or status == 412:
        return precondition or Conflict(PRECONDITION_FAILED)
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized) or status in {401, 403}:
        return ConfigError("storage access denied; check the service account's roles")
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return ConfigError("no Google credentials for storage")
    if isinstance(exc, google.auth.exceptions.RefreshError) and not getattr(
            exc, "retryable", False):
        return ConfigError("storage credentials could not be refreshed")
    transient = status in _TRANSIENT_STATUS or isinstance(exc, _TRANSIENT_ERRORS)
    return BackendUnavailable("storage is unavailable") if transient else None


@contextlib.contextmanager
def edge(precondition: WorkspaceError | None = None) -> Iterator[None]:
    """Re-raise provider errors as service errors (unknown ones pass through as bugs)."""
    try:
        yield
    except PROVIDER_ERRORS as exc:
        translated = translate(exc, precondition)
        if translated is None or translated is exc:
            raise
        raise translated from exc


def is_transient(exc: BaseException) -> bool:
    """The retry predicate: what ``translate`` calls unavailable, never the service's own."""
    return not isinstance(exc, WorkspaceError) and isinstance(translate(exc), BackendUnavailable)
