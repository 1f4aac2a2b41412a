"""``GcsSource``: reads ``gcs://bucket/object`` inputs, only from allow-listed buckets.

The allow-list (``MEDIA_GCS_ALLOWED_BUCKETS``) is checked before any request, and settings
refuse to list the service's own buckets, whose objects belong to users or are unscanned.
The object's size is read first (a 413 costs no download), then one generation is streamed
in ranged reads of ``chunk_size``, so memory stays flat whatever the object's size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from google.cloud import storage

from shared.config import Settings
from shared.errors import BadRequest, Forbidden, NotFound
from shared.media.fetch import too_large
from shared.storage.gcs_client import READ_ONLY, connect, emulator_url
from shared.storage.gcs_transfer import edge

MAX_OBJECT_NAME_BYTES = 1024


def parse_gcs_uri(uri: str) -> tuple[str, str]:
    """``gcs://bucket/name`` → (bucket, name); 400 when either part is missing or odd."""
    rest = uri[len("gcs://"):]
    bucket, slash, name = rest.partition("/")
    if not bucket or not slash or not name:
        raise BadRequest("a gcs:// input must be gcs://bucket/object")
    if len(name.encode("utf-8")) > MAX_OBJECT_NAME_BYTES or any(
            ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadRequest("the gcs:// object name is invalid")
    return bucket, name


class GcsSource:
    """Streams objects from the buckets ``MEDIA_GCS_ALLOWED_BUCKETS`` names."""

    def __init__(self, settings: Settings, chunk_size: int = 8 * 1024 * 1024) -> None:
        self.settings = settings
        self.allowed = frozenset(settings.media_gcs_allowed_buckets)
        self.chunk_size = chunk_size
        self.emulator = emulator_url(settings.storage_emulator_host)
        self._lock = threading.Lock()
        self._client: storage.Client | None = None

    @property
    def client(self) -> storage.Client:
        """Built on first use: anonymous against the emulator, default credentials otherwise."""
        with self._lock:
            if self._client is None:
                self._client, _ = connect(self.settings.gcp_project, self.emulator, READ_ONLY)
            return self._client

    def check(self, bucket: str) -> None:
        """403 unless the bucket is on the allow-list."""
        if bucket not in self.allowed:
            raise Forbidden("gcs:// inputs may only read from allowed buckets")

    def open(self, uri: str, max_bytes: int) -> tuple[Iterator[bytes], int]:
        """The object's bytes as chunks and its size; 403/404/413 before any byte is read."""
        bucket_name, name = parse_gcs_uri(uri)
        self.check(bucket_name)
        with edge():
            blob = self.client.bucket(bucket_name).get_blob(name)
        if blob is None:
            raise NotFound("no such object in the bucket")
        size = int(blob.size or 0)
        if size > max_bytes:
            raise too_large(max_bytes)
        pinned = self.client.bucket(bucket_name).blob(name, generation=blob.generation)
        return self._chunks(pinned, max_bytes), size

    def _chunks(self, blob: storage.Blob, max_bytes: int) -> Iterator[bytes]:
        total = 0
        with edge(), blob.open("rb", chunk_size=self.chunk_size) as reader:
            while chunk := reader.read(self.chunk_size):
                total += len(chunk)
                if total > max_bytes:
                    raise too_large(max_bytes)
                yield chunk
