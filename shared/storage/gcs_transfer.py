"""Streaming GCS transfers for ``GcsBlobStore``: ``GcsStagedBlob`` (upload), ``GcsReader``
(download), and ``translate``/``edge``, where provider errors become service errors.

Both directions keep memory bounded by one chunk whatever the file size. The upload speaks
the resumable-upload protocol itself rather than through ``Blob.open("wb")``: that writer keeps
about two chunks alive (a sliding ``BytesIO`` plus the request payload), does not report the
generation it created, and its ``terminate`` cancels the wrong URL. Here one buffer (a small
file's size, else one chunk, reused) is sent as a zero-copy ``memoryview``, the final response
gives the generation that promotion pins, and a failed chunk is resumed from what the session
reports it holds.

Errors (``translate``): 404 → ``NotFound``, 412 → ``Conflict``, 408/429/5xx, refused
connections, timeouts and exhausted retries → ``BackendUnavailable``, 401/403 → ``ConfigError``;
anything else is a bug and passes through.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import logging
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import google.auth.exceptions
import google_crc32c
import requests
import urllib3.exceptions
from google.api_core import exceptions as gexc
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

from shared.errors import BackendUnavailable, ConfigError, Conflict, NotFound, WorkspaceError
from shared.storage.base import StagedBlob

if TYPE_CHECKING:
    from shared.storage.gcs import GcsBlobStore

log = logging.getLogger(__name__)

STAGING_PREFIX = "staging/"
UPLOAD_ID = "workspace-upload-id"  # custom metadata that ties a promoted object to its upload
_SMALL = 1024 * 1024  # a staged file this small is buffered at its own size, not a whole chunk
_RANGE = re.compile(r"bytes=0-(\d+)")
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_PROVIDER_ERRORS = (
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


def translate(exc: BaseException) -> WorkspaceError | None:
    """The service error for a provider error, or None when it is a bug to let through."""
    if isinstance(exc, WorkspaceError):
        return exc
    if isinstance(exc, DataCorruption):
        return BackendUnavailable("storage checksum mismatch; retry the transfer")
    status = getattr(exc, "code", None)
    if isinstance(exc, InvalidResponse):
        status = getattr(exc.response, "status_code", None)
    if isinstance(exc, gexc.NotFound) or status == 404:
        return NotFound("blob not found")
    if isinstance(exc, gexc.PreconditionFailed) or status == 412:
        return Conflict("a blob already exists at that key")
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
def edge() -> Iterator[None]:
    """Re-raise provider errors as service errors (unknown ones pass through as bugs)."""
    try:
        yield
    except _PROVIDER_ERRORS as exc:
        translated = translate(exc)
        if translated is None or translated is exc:
            raise
        raise translated from exc


def is_transient(exc: BaseException) -> bool:
    """The retry predicate: what ``translate`` calls unavailable, never the service's own errors."""
    return not isinstance(exc, WorkspaceError) and isinstance(translate(exc), BackendUnavailable)


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when no connection was made, so the request cannot have reached the server."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(
        reason, urllib3.exceptions.NewConnectionError)


def _crc(checksum: google_crc32c.Checksum) -> str:
    return base64.b64encode(checksum.digest()).decode()


def _checked(response: requests.Response) -> requests.Response:
    """The response when it is a success or a resumable 308; the mapped API error otherwise."""
    if response.status_code in (200, 201, 206, 308):
        return response
    try:
        raise gexc.from_http_response(response)
    finally:
        response.close()


class GcsStagedBlob(StagedBlob):
    """A resumable upload to ``staging/{uuid}``, created with ``if_generation_match=0``."""

    def __init__(self, store: GcsBlobStore) -> None:
        self.upload_id = uuid.uuid4().hex
        self.name = f"{STAGING_PREFIX}{self.upload_id}"
        self.size = 0
        self.generation: int | None = None
        self._store = store
        self._chunk = store.chunk_size
        self._buffer = bytearray()  # a small file's size, else one chunk, reused for each part
        self._filled = 0  # bytes buffered, not yet held by the session
        self._held = 0  # bytes the session holds
        self._url: str | None = None
        self._unsure = False  # a PUT failed midway: ask the session before resending
        self._crc = google_crc32c.Checksum()
        self._open = True

    def write(self, chunk: bytes) -> None:
        assert self._open, "staged blob is closed"
        view = memoryview(chunk).cast("B")
        self._crc.update(chunk if isinstance(chunk, bytes) else bytes(view))
        self.size += len(view)
        while view:
            take = min(len(view), self._chunk - self._filled)
            end = self._filled + take
            if end > len(self._buffer) and end > _SMALL and len(self._buffer) < self._chunk:
                self._grow()  # past small-file size: take the whole chunk in one allocation
            self._buffer[self._filled:end] = view[:take]
            self._filled = end
            view = view[take:]
            if self._filled == self._chunk:
                self._flush(final=False)

    def _grow(self) -> None:
        full = bytearray(self._chunk)
        full[:self._filled] = memoryview(self._buffer)[:self._filled]
        self._buffer = full

    def close(self) -> None:
        """Send the rest and finalize; the generation created is kept for ``promote``."""
        if not self._open:
            return
        self._flush(final=True)
        self._open = False
        self._buffer = bytearray()

    def discard(self) -> None:
        self._open = False
        self._buffer = bytearray()
        try:
            if self.generation is not None:  # one attempt: error paths must not stall
                self._store.delete_generation(self.name, self.generation, retry=False)
            elif self._url is not None:  # cancel the session (GCS answers 499)
                self._store.session.delete(self._url, timeout=self._store.timeout).close()
        except Exception:  # discard runs on error paths and must never raise
            log.warning("could not discard staging object %s", self.name, exc_info=True)

    def _flush(self, final: bool) -> None:
        with edge():
            if self._url is None:
                blob = self._store.bucket.blob(self.name)
                blob.metadata = {UPLOAD_ID: self.upload_id}
                self._url = blob.create_resumable_upload_session(
                    content_type="application/octet-stream", if_generation_match=0,
                    checksum=None, timeout=self._store.timeout,
                    retry=self._store.retry_for(if_generation_match=0))
            if not final:  # a part the session did not take waits for the next full chunk
                self._store.retry(self._send)(False)
                return
            for _ in range(8):
                if self._store.retry(self._send)(True):
                    return
            raise BackendUnavailable("resumable upload made no progress; retry the upload")

    def _send(self, final: bool) -> bool:
        """One PUT of what is buffered; True once the object exists."""
        end = self._held + self._filled
        total = str(end) if final else "*"
        if self._unsure:  # the last PUT failed: resend only what the session lacks
            response = self._put(b"", f"bytes */{total}", final=False)
            if response.status_code in (200, 201):
                return self._finish(response, final)
            self._keep_from(self._held_by(response))
            if not (final or self._filled):
                self._unsure = False
                return False
        self._unsure = True
        body = memoryview(self._buffer)[:self._filled]
        span = f"bytes {self._held}-{end - 1}/{total}" if self._filled else f"bytes */{total}"
        try:
            response = self._put(body, span, final=final)
        except requests.ConnectionError as exc:
            self._unsure = not _never_sent(exc)  # refused: nothing reached the session
            raise
        finally:
            body.release()  # the buffer may grow again only once no view of it is left
        self._unsure = False
        if response.status_code in (200, 201):
            return self._finish(response, final)
        self._keep_from(self._held_by(response))
        return False

    def _put(self, body: memoryview | bytes, span: str, final: bool) -> requests.Response:
        headers = {"Content-Range": span}
        if final:
            headers["X-Goog-Hash"] = f"crc32c={_crc(self._crc)}"
        assert self._url is not None
        return _checked(self._store.session.put(self._url, data=body, headers=headers,
                                                timeout=self._store.timeout))

    @staticmethod
    def _held_by(response: requests.Response) -> int:
        match = _RANGE.fullmatch(response.headers.get("Range", ""))
        return int(match.group(1)) + 1 if match else 0

    def _keep_from(self, held: int) -> None:
        """The session holds ``held`` bytes: keep only the buffered bytes after them."""
        if not self._held <= held <= self._held + self._filled:
            raise BackendUnavailable("resumable upload lost data; retry the upload")
        sent = held - self._held
        if sent:
            rest = self._filled - sent
            self._buffer[:rest] = self._buffer[sent:self._filled]
            self._held, self._filled = held, rest

    def _finish(self, response: requests.Response, final: bool) -> bool:
        resource = response.json()
        self.generation = int(resource["generation"])  # even a wrong object: discard removes it
        self._url = None  # the session is finished: nothing left to cancel
        if not final or int(resource.get("size", -1)) != self.size:
            raise BackendUnavailable("staged upload is incomplete; retry the upload")
        if resource.get("crc32c") not in (None, _crc(self._crc)):
            raise BackendUnavailable("staged upload checksum mismatch; retry the upload")
        self._held, self._filled = self.size, 0
        return True


class GcsReader(io.BufferedIOBase):
    """One streaming GET of a pinned generation, memory bounded by the caller's read size.

    A dropped connection is resumed with a ``Range`` request at the current offset (same
    generation, under the store's retry policy), and the CRC32C of everything read is checked
    against the object's at the end, so a short or corrupted transfer is an error, not a file.
    """

    def __init__(self, store: GcsBlobStore, url: str, size: int, crc32c: str | None) -> None:
        self._store = store
        self._url = url
        self.size = size
        self._expected = crc32c
        self._crc = google_crc32c.Checksum()
        self._pos = 0
        self._response: requests.Response | None = None

    def _read_once(self, size: int) -> bytes:
        if self._response is None:
            # The stored bytes exactly: no decompressive transcoding, whatever was uploaded.
            headers = {"Accept-Encoding": "gzip"}
            if self._pos:
                headers["Range"] = f"bytes={self._pos}-"
            self._response = _checked(self._store.session.get(
                self._url, headers=headers, stream=True, timeout=self._store.timeout))
        try:
            data = self._response.raw.read(size if size >= 0 else None, decode_content=False)
            if not data:
                raise http.client.IncompleteRead(b"", self.size - self._pos)
        except BaseException:
            self._drop()
            raise
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); b"" at the end."""
        if self.closed:
            raise ValueError("read of a closed blob stream")
        if self._pos >= self.size:
            self._drop()
            return b""
        want = -1 if size is None or size < 0 else min(size, self.size - self._pos)
        with edge():
            data = self._store.retry(self._read_once)(want)
        self._pos += len(data)
        self._crc.update(data)
        done = self._pos >= self.size and self._expected is not None
        if done and _crc(self._crc) != self._expected:
            raise BackendUnavailable("download checksum mismatch; retry the download")
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readable(self) -> bool:
        return True

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def close(self) -> None:
        self._drop()
        super().close()
