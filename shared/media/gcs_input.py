"""``GcsInput``: reads ``gcs://bucket/object`` media inputs, only from allow-listed buckets.

The allow-list (``MEDIA_GCS_ALLOWED_BUCKETS``) is checked before any request, and settings
refuse to list the service's own buckets, whose objects belong to users or are unscanned.
The object's size is read first (a 413 costs no download), then the generation found is
streamed in reads of ``chunk_size``, so memory stays flat whatever the object's size. The
reading itself is the storage layer's (``open_live``: the live generation pinned at open,
Range-resumed, CRC-checked), passed in by the composition root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from shared.errors import BadRequest, Forbidden
from shared.media.fetch import too_large

MAX_OBJECT_NAME_BYTES = 1024


class SizedStream(Protocol):
    """A readable stream whose total size is known before the first read."""

    size: int

    def read(self, size: int = -1) -> bytes: ...

    def close(self) -> None: ...


# ``open_live(bucket, name)``: the object's live generation, pinned at open (404 if none).
LiveOpener = Callable[[str, str], SizedStream]


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


class GcsInput:
    """Streams objects from the buckets on the allow-list."""

    def __init__(self, allowed: tuple[str, ...], open_live: LiveOpener | None,
                 chunk_size: int = 8 * 1024 * 1024) -> None:
        self.allowed = frozenset(allowed)
        self._open_live = open_live
        self.chunk_size = chunk_size

    def check(self, bucket: str) -> None:
        """403 unless the bucket is on the allow-list."""
        if bucket not in self.allowed or self._open_live is None:
            raise Forbidden("gcs:// inputs may only read from allowed buckets")

    def open(self, uri: str, max_bytes: int) -> tuple[Iterator[bytes], int]:
        """The object's bytes as chunks and its size; 403/404/413 before any byte is read."""
        bucket_name, name = parse_gcs_uri(uri)
        self.check(bucket_name)
        assert self._open_live is not None
        stream = self._open_live(bucket_name, name)
        if stream.size > max_bytes:
            stream.close()
            raise too_large(max_bytes)
        return self._chunks(stream), stream.size

    def _chunks(self, stream: SizedStream) -> Iterator[bytes]:
        try:
            while chunk := stream.read(self.chunk_size):
                yield chunk
        finally:
            stream.close()
