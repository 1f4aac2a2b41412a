"""``GcsObjectReader``: stream one generation of any bucket's object, for scanning.

The scanner reads objects it does not own (the incoming bucket's uploads), so this is not a
``BlobStore``: it only opens ``(bucket, name, generation)`` for reading. The read itself is the
store's ``GcsReader`` (one streaming GET of the pinned generation, resumed with ``Range`` on a
dropped connection, CRC32C-checked at the end), and provider errors pass through the same
``edge`` translation, so a vanished object or generation is ``NotFound`` here as everywhere.
The client is built like ``GcsBlobStore``'s: anonymous against ``STORAGE_EMULATOR_HOST``,
default credentials otherwise, on first use (cold starts).
"""

from __future__ import annotations

import re
import threading
from typing import Protocol

from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage

from shared.errors import BadRequest, NotFound, PayloadTooLarge
from shared.storage.gcs_client import READ_ONLY, connect, emulator_url, retry_policy
from shared.storage.gcs_transfer import GcsReader, download_url, edge

# GCS bucket names: 3-63 characters per dot-separated part, lower-case letters, digits, - _ .
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_MAX_NAME_BYTES = 1024
_MAX_GENERATION = 2**63 - 1


class GcsSettings(Protocol):
    """What the client needs; both ``Settings`` and ``FrontSettings`` provide it."""

    gcp_project: str
    storage_emulator_host: str
    gcs_timeout_seconds: int
    gcs_retry_deadline_seconds: int


def check_object_ref(bucket: str, name: str, generation: int) -> None:
    """400 unless the triple names one possible GCS object generation."""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise BadRequest("'bucket' is not a valid bucket name")
    if not name or len(name.encode("utf-8")) > _MAX_NAME_BYTES or any(
            c in name for c in "\r\n"):
        raise BadRequest("'name' must be an object name of 1 to 1024 bytes, without CR or LF")
    if name in {".", ".."} or name.startswith(".well-known/acme-challenge/"):
        raise BadRequest("'name' is not a valid object name")
    if not 0 < generation <= _MAX_GENERATION:
        raise BadRequest("'generation' must be a positive 64-bit integer")


class GcsObjectReader:
    """Opens pinned generations for streaming reads (the duck-typed store ``GcsReader`` uses)."""

    def __init__(self, settings: GcsSettings) -> None:
        self.project = settings.gcp_project
        self.emulator = emulator_url(settings.storage_emulator_host)
        self.timeout = float(settings.gcs_timeout_seconds)
        deadline = float(settings.gcs_retry_deadline_seconds)
        self.retry = retry_policy(deadline)
        self._lock = threading.Lock()
        self._client: storage.Client | None = None
        self._session: AuthorizedSession | None = None

    @property
    def client(self) -> storage.Client:
        """The storage client, built on first use."""
        with self._lock:
            if self._client is None:
                client, credentials = connect(self.project, self.emulator, READ_ONLY)
                self._session = AuthorizedSession(credentials)
                self._client = client
            return self._client

    @property
    def session(self) -> AuthorizedSession:
        """The authorized HTTP session the streaming GET uses."""
        if self._session is None:
            _ = self.client
        assert self._session is not None
        return self._session

    def open(self, bucket: str, name: str, generation: int,
             max_bytes: int | None = None) -> GcsReader:
        """A stream of exactly that generation: 404 if it is gone, 413 if over ``max_bytes``."""
        check_object_ref(bucket, name, generation)
        return self._open(bucket, name, generation, max_bytes)

    def open_live(self, bucket: str, name: str, max_bytes: int | None = None) -> GcsReader:
        """The live generation, pinned at open: a later overwrite never mixes into the read."""
        check_object_ref(bucket, name, 1)
        return self._open(bucket, name, None, max_bytes)

    def _open(self, bucket: str, name: str, generation: int | None,
              max_bytes: int | None) -> GcsReader:
        with edge():
            blob = self.client.bucket(bucket).get_blob(
                name, generation=generation, timeout=self.timeout, retry=self.retry)
        if blob is None or (generation is not None and blob.generation != generation):
            raise NotFound("object not found at that generation")
        size = blob.size or 0
        if max_bytes is not None and size > max_bytes:
            raise PayloadTooLarge(f"the object is larger than {max_bytes} bytes",
                                  max_bytes=max_bytes)
        url = download_url(self.client.api_endpoint, bucket, name, blob.generation)
        return GcsReader(self, url, size, blob.crc32c)  # type: ignore[arg-type]
