"""Streaming GCS transfers for ``GcsBlobStore``: ``GcsStagedBlob`` (upload), ``GcsReader``
(download), and ``translate``/``edge``, where provider errors become service errors.

Both directions keep memory bounded whatever the file size. The upload streams one
multipart request from a bounded queue (see ``GcsStagedBlob`` for why not the resumable
protocol, and why not ``Blob.open("wb")``, which keeps about two chunks alive and does not
report the generation it created); its answer gives the generation that promotion pins.
Downloads stream one pinned generation and resume a dropped connection with ``Range``.

Errors (``translate``): 404 → ``NotFound``, 412 → ``Conflict``, 408/429/5xx, refused
connections, timeouts and exhausted retries → ``BackendUnavailable``, 401/403 → ``ConfigError``;
anything else is a bug and passes through.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import logging
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

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
PIECE = 1024 * 1024  # what a staged upload queues at a time
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
    """One streamed upload to ``staging/{uuid}`` (or to its final name when that is known),
    created with ``ifGenerationMatch=0``.

    The bytes go out in a single multipart request (metadata, then the media) whose body is
    produced while the client's upload still arrives: ``write`` coalesces them into
    ``PIECE``-sized pieces on a bounded queue that a sender thread drains into the request
    (chunked transfer encoding). Memory is at most ``chunk_size`` queued plus one piece, and
    the bytes are hashed once here and once by the server.

    Why not the resumable protocol: it buffers a whole chunk, pays a round trip per chunk and,
    on fake-gcs-server, a re-hash of the whole object per chunk. For objects capped at
    ``MAX_FILE_SIZE_MB`` the one thing resumability buys, re-sending a lost chunk, is better
    left to the caller, who still holds the file: a broken stream fails the upload (503) and
    leaves nothing behind, because a request whose body never ended creates no object.
    ``discard`` mid-stream aborts the request the same way.
    """

    def __init__(self, store: GcsBlobStore, name: str | None = None) -> None:
        self.upload_id = uuid.uuid4().hex
        self.name = name or f"{STAGING_PREFIX}{self.upload_id}"
        self.size = 0
        self.generation: int | None = None
        self._store = store
        self._pending = bytearray()  # bytes not yet queued, under one piece
        self._queue: queue.Queue[bytes | None] = queue.Queue(
            maxsize=max(1, store.chunk_size // PIECE))
        self._sender: threading.Thread | None = None
        self._resource: dict[str, object] | None = None
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._crc = google_crc32c.Checksum()
        self._open = True

    def write(self, chunk: bytes) -> None:
        assert self._open, "staged blob is closed"
        if not chunk:
            return
        chunk = bytes(chunk)  # queued as is: it must not change under the sender
        self._crc.update(chunk)
        self.size += len(chunk)
        if not self._pending and PIECE // 4 <= len(chunk) <= PIECE:
            self._enqueue(chunk)  # the common case (a multipart read): no copy
            return
        self._pending += chunk
        while len(self._pending) >= PIECE:
            self._enqueue(bytes(self._pending[:PIECE]))
            del self._pending[:PIECE]

    def close(self) -> None:
        """Send the rest and wait for the object; its generation is kept for ``promote``."""
        if not self._open:
            return
        self._open = False
        if self._pending:
            self._enqueue(bytes(self._pending))
            self._pending = bytearray()
        self._enqueue(None)
        assert self._sender is not None
        self._sender.join()
        if self._error is not None:
            error = self._error
            self._error = None
            with edge():
                raise error
        resource = self._resource or {}
        self.generation = int(str(resource["generation"]))  # even a wrong one: discard removes it
        if int(str(resource.get("size", -1))) != self.size:
            raise BackendUnavailable("staged upload is incomplete; retry the upload")
        if resource.get("crc32c") not in (None, _crc(self._crc)):
            raise BackendUnavailable("staged upload checksum mismatch; retry the upload")

    def keep(self) -> None:
        """The object now belongs to a record (promoted): ``discard`` must leave it alone."""
        self.generation = None
        self._resource = None

    def discard(self) -> None:
        self._open = False
        self._pending = bytearray()
        try:
            if self._sender is not None and self._sender.is_alive():
                self._abort.set()  # the body generator raises: the request ends unfinished
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(None)
                self._sender.join(timeout=self._store.timeout)
            generation = self.generation
            if generation is None and self._resource is not None:
                generation = int(str(self._resource["generation"]))  # landed, never closed
            if generation is not None:  # one attempt: error paths must not stall
                self._store.delete_generation(self.name, generation, retry=False)
        except Exception:  # discard runs on error paths and must never raise
            log.warning("could not discard staging object %s", self.name, exc_info=True)

    def _enqueue(self, piece: bytes | None) -> None:
        """Hand a piece (None: the end) to the sender, waiting while the queue is full."""
        if self._sender is None:
            self._sender = threading.Thread(target=self._send, name=f"gcs-{self.upload_id}",
                                            daemon=True)
            self._sender.start()
        while True:
            if not self._sender.is_alive():
                if piece is None:
                    return  # close() reports what ended it
                with edge():
                    raise self._error or BackendUnavailable("storage upload ended early")
            try:
                self._queue.put(piece, timeout=0.25)
                return
            except queue.Full:
                continue

    def _send(self) -> None:
        """The sender thread: one multipart POST whose body streams from the queue."""
        boundary = f"=={uuid.uuid4().hex}=="
        url = (f"{self._store.client.api_endpoint}/upload/storage/v1/b/"
               f"{quote(self._store.bucket_name, safe='')}/o"
               f"?uploadType=multipart&ifGenerationMatch=0")
        metadata = json.dumps({"name": self.name, "contentType": "application/octet-stream",
                               "metadata": {UPLOAD_ID: self.upload_id}})
        try:
            response = _checked(self._store.session.post(
                url, data=self._body(boundary, metadata), timeout=self._store.timeout,
                headers={"Content-Type": f'multipart/related; boundary="{boundary}"'}))
            self._resource = response.json()
        except BaseException as exc:  # noqa: BLE001 - a thread hands its error to the writer
            self._error = exc
        finally:
            self._drain()

    def _body(self, boundary: str, metadata: str) -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
               f"{metadata}\r\n--{boundary}\r\n"
               f"Content-Type: application/octet-stream\r\n\r\n").encode()
        while True:
            piece = self._queue.get()
            if self._abort.is_set():
                raise _Aborted("staged upload discarded")
            if piece is None:
                break
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    def _drain(self) -> None:
        """Empty the queue so a writer blocked on it wakes and sees the sender has ended."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()


class _Aborted(Exception):
    """Raised inside the request body to end it unfinished (the upload was discarded)."""


def download_url(endpoint: str, bucket: str, name: str, generation: int | None) -> str:
    """The JSON API media URL of exactly one generation of ``bucket/name``."""
    return (f"{endpoint}/download/storage/v1/b/{quote(bucket, safe='')}/o/"
            f"{quote(name, safe='')}?alt=media&generation={generation}")


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
