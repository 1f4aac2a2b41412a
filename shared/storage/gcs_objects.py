"""``GcsObjects``: generation-pinned operations across buckets, for direct uploads.

The direct-upload path touches three buckets (incoming, files, quarantine) by explicit
``(bucket, name, generation)``, unlike ``BlobStore``'s keys in one bucket. It reuses the
``GcsBlobStore``'s client, session, timeout and retry policy, and its error edge. Every copy
is create-only (``if_generation_match=0``) and pinned to its source generation; every delete
names the generation it removes, so each call is safe to retry (STYLE habit 8).

fake-gcs-server ignores preconditions on rewrite and delete, so ``copy`` also looks before it
copies and recognises its own earlier copy by the ``workspace-source`` metadata it sets (the
same guard ``GcsBlobStore.promote`` uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from google.api_core import exceptions as gexc

from shared.storage.gcs import GcsBlobStore
from shared.storage.gcs_transfer import GcsReader, download_url, edge

SOURCE_META = "workspace-source"  # "bucket/name#generation" of the object a copy came from
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """One stored generation of an object."""

    bucket: str
    name: str
    generation: int
    size: int
    time_created: datetime | None
    content_type: str | None
    crc32c: str | None
    metadata: dict[str, str] = field(default_factory=dict)


def source_id(bucket: str, name: str, generation: int) -> str:
    """The idempotency key of one object generation: ``bucket/name#generation``."""
    return f"{bucket}/{name}#{generation}"


class GcsObjects:
    """Reads, copies, deletes and lists by explicit bucket and generation."""

    def __init__(self, store: GcsBlobStore) -> None:
        self.store = store

    def info(self, bucket: str, name: str, generation: int | None = None) -> ObjectInfo | None:
        """That generation (the live one when None), or None when it does not exist."""
        with edge():
            blob = self.store.client.bucket(bucket).get_blob(
                name, generation=generation, timeout=self.store.timeout,
                retry=self.store.retry)
        if blob is None or (generation is not None and blob.generation != generation):
            return None
        return ObjectInfo(bucket, name, int(blob.generation or 0), int(blob.size or 0),
                          blob.time_created, blob.content_type, blob.crc32c,
                          dict(blob.metadata or {}))

    def chunks(self, obj: ObjectInfo, size: int = READ_CHUNK) -> Iterator[bytes]:
        """The bytes of exactly ``obj.generation``, streamed (CRC32C checked at the end)."""
        url = download_url(self.store.client.api_endpoint, obj.bucket, obj.name, obj.generation)
        reader = cast(GcsReader, GcsReader(self.store, url, obj.size, obj.crc32c))
        try:
            with edge():
                while chunk := reader.read(size):
                    yield chunk
        finally:
            reader.close()

    def copy(self, obj: ObjectInfo, bucket: str, name: str,
             metadata: dict[str, str] | None = None) -> None:
        """Create ``bucket/name`` from ``obj`` (create-only, source generation pinned).

        A copy this same source made before (a retried event) counts as done; any other
        object already there is a ``Conflict``.
        """
        tag = source_id(obj.bucket, obj.name, obj.generation)
        source = self.store.client.bucket(obj.bucket).blob(obj.name, generation=obj.generation)
        target = self.store.client.bucket(bucket).blob(name)
        target.metadata = {**(metadata or {}), SOURCE_META: tag}
        if obj.content_type:
            target.content_type = obj.content_type
        self.store.copy_once(source, obj.generation, target, (SOURCE_META, tag))

    def delete(self, obj: ObjectInfo) -> bool:
        """Delete exactly ``obj.generation``; False when it was already gone."""
        with edge():
            try:
                self.store.client.bucket(obj.bucket).blob(obj.name).delete(
                    if_generation_match=obj.generation, timeout=self.store.timeout,
                    retry=self.store.retry)
            except gexc.NotFound:
                return False
        return True

    def list(self, bucket: str, prefix: str, older_than: datetime,
             limit: int) -> list[ObjectInfo]:
        """Live objects under ``prefix`` created before ``older_than`` (oldest listed first)."""
        out: list[ObjectInfo] = []
        with edge():
            for blob in self.store.client.list_blobs(bucket, prefix=prefix,
                                                     timeout=self.store.timeout,
                                                     retry=self.store.retry):
                if blob.time_created is not None and blob.time_created < older_than:
                    out.append(ObjectInfo(bucket, blob.name, int(blob.generation or 0),
                                          int(blob.size or 0), blob.time_created,
                                          blob.content_type, blob.crc32c))
                    if len(out) >= limit:
                        break
        return out
