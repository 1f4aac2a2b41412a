"""``GcsSource``: reads ``gcs://bucket/object`` inputs, only from allow-listed buckets.

The allow-list (``MEDIA_GCS_ALLOWED_BUCKETS``) is checked before any request, and settings
refuse to list the service's own buckets, whose objects belong to users or are unscanned.
The object's size is read first (a 413 costs no download), then the generation found is
streamed in reads of ``chunk_size``, so memory stays flat whatever the object's size.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.config import Settings
from shared.errors import BadRequest, Forbidden
from shared.media.fetch import too_large
from shared.storage.gcs_transfer import GcsReader

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
    """Streams objects from the buckets ``MEDIA_GCS_ALLOWED_BUCKETS`` names.

    The reading itself is the scanner's ``GcsObjectReader`` (one pinned generation,
    Range-resumed, CRC32C-checked), shared through the factory.
    """

    def __init__(self, settings: Settings, chunk_size: int = 8 * 1024 * 1024) -> None:
        self.allowed = frozenset(settings.media_gcs_allowed_buckets)
        self.chunk_size = chunk_size

    def check(self, bucket: str) -> None:
        """403 unless the bucket is on the allow-list."""
        if bucket not in self.allowed:
            raise Forbidden("gcs:// inputs may only read from allowed buckets")

    def open(self, uri: str, max_bytes: int) -> tuple[Iterator[bytes], int]:
        """The object's bytes as chunks and its size; 403/404/413 before any byte is read."""
        from shared import factory  # the GCS client loads only when a gcs:// input comes

        bucket_name, name = parse_gcs_uri(uri)
        self.check(bucket_name)
        stream = factory.gcs_object_reader().open_live(bucket_name, name)
        if stream.size > max_bytes:
            stream.close()
            raise too_large(max_bytes)
        return self._chunks(stream), stream.size

    def _chunks(self, stream: GcsReader) -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(self.chunk_size):
                yield chunk
