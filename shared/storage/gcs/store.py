"""``GcsBlobStore``: blobs as GCS objects in one bucket, built on ``GcsObjects``.

A file version lives at ``{GCS_OBJECT_PREFIX}/{key}``. An upload streams in one request
(``GcsStagedBlob``, memory bounded by the chunk size). When its key is known before the bytes
(``stage(key)``: the upload reserved its path first) it is written there directly, create-only,
and ``promote`` has nothing to do; otherwise it goes to ``staging/{uuid}`` and is promoted by a
server-side copy pinned to the staged generation, after which the staging object is deleted.
Reads stream one pinned generation. Downloads can skip the service: ``signed_download_url``.

When the deployment has incoming and quarantine buckets, the store also has a ``landing`` zone
for direct uploads (``GcsLandingZone``). A stored blob that a rescan finds infected moves to
the quarantine bucket (without one, to ``quarantine/`` in the files bucket, outside the
prefix files are served from), copied from the exact generation that was scanned.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, cast

from shared.download import content_disposition
from shared.errors import BackendUnavailable, ConfigError, NotFound
from shared.models import ObjectRef
from shared.storage.base import BlobStore, ObjectInfo, StagedBlob, check_key
from shared.storage.gcs.landing import GcsLandingZone
from shared.storage.gcs.objects import GcsObjects
from shared.storage.gcs.signing import expiry_of
from shared.storage.gcs.upload import UPLOAD_ID, GcsStagedBlob

log = logging.getLogger(__name__)

MiB = 1024 * 1024
STAGING_PREFIX = "staging/"
QUARANTINE_PREFIX = "quarantine/"


class GcsBlobStore(BlobStore):
    """Objects in one bucket under ``prefix``."""

    name = "gcs"
    scheme = "gcs"
    supports_signed_urls = True
    writes_in_place = True

    def __init__(self, objects: GcsObjects, bucket: str, *, prefix: str = "workspaces",
                 chunk_size: int = 8 * MiB, incoming_bucket: str = "",
                 quarantine_bucket: str = "") -> None:
        if not bucket:
            raise ConfigError("MEDIA_GCS_BUCKET_NAME is required for the GCS blob store")
        self.prefix = prefix.strip("/")
        if not self.prefix or f"{self.prefix}/".startswith(STAGING_PREFIX):
            raise ConfigError("GCS_OBJECT_PREFIX may not be empty or under staging/")
        if chunk_size <= 0 or chunk_size % (256 * 1024):
            raise ConfigError("the GCS chunk size must be a positive multiple of 256 KiB")
        self.objects = objects
        self.bucket_name = bucket
        self.chunk_size = chunk_size
        self.quarantine_bucket = quarantine_bucket or bucket
        if incoming_bucket and quarantine_bucket:
            self.landing = GcsLandingZone(self, incoming_bucket, quarantine_bucket)

    def object_name(self, key: str) -> str:
        """``{prefix}/{key}``."""
        return f"{self.prefix}/{check_key(key)}"

    def _live(self, key: str) -> ObjectInfo | None:
        return self.objects.info(self.bucket_name, self.object_name(key))

    # -- primitives -------------------------------------------------------------------------
    def stage(self, key: str | None = None) -> GcsStagedBlob:
        upload_id = uuid.uuid4().hex
        name = self.object_name(key) if key else f"{STAGING_PREFIX}{upload_id}"
        return GcsStagedBlob(self.objects, self.bucket_name, name, self.chunk_size, upload_id)

    def promote(self, staged: StagedBlob, key: str) -> None:
        assert isinstance(staged, GcsStagedBlob)
        staged.close()
        ref = staged.ref
        assert ref is not None
        name = self.object_name(key)
        if staged.name == name:  # written in place (create-only): nothing to copy
            staged.keep()
            return
        source = ObjectInfo(ref.bucket, ref.name, ref.generation, staged.size, None,
                            "application/octet-stream", None)
        self.objects.copy(source, self.bucket_name, name,
                          marker=(UPLOAD_ID, staged.upload_id))
        try:
            self.objects.delete(ref)
        except BackendUnavailable:  # the file is in place; sweep_staging removes the rest
            log.warning("promoted %s but could not delete %s", name, staged.name)
        staged.keep()

    def copy_in(self, source: ObjectInfo, key: str) -> None:
        """Copy exactly ``source`` (another bucket's generation) to ``key``: create-only."""
        self.objects.copy(source, self.bucket_name, self.object_name(key))

    def open_read(self, key: str) -> BinaryIO:
        obj = self._live(key)
        if obj is None:
            raise NotFound("blob not found")
        return cast(BinaryIO, self.objects.reader(obj))

    def delete(self, key: str) -> bool:
        obj = self._live(key)
        return obj is not None and self.objects.delete(obj.ref)

    def pinned(self, key: str) -> ObjectRef | None:
        obj = self._live(key)
        if obj is None:
            raise NotFound("blob not found")
        return obj.ref

    def quarantine(self, key: str, generation: int | None, reason: dict[str, str]) -> str:
        name = f"{QUARANTINE_PREFIX}{self.object_name(key)}"
        where = f"gcs://{self.quarantine_bucket}/{name}"
        obj = self.objects.info(self.bucket_name, self.object_name(key), generation)
        if obj is None:
            if self.objects.info(self.quarantine_bucket, name) is not None:
                return where  # moved by an earlier attempt
            raise NotFound("blob not found")
        self.objects.copy(obj, self.quarantine_bucket, name, reason)
        self.objects.delete(obj.ref)
        return where

    def sweep_staging(self, older_than_seconds: float) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        stale = self.objects.list(self.bucket_name, STAGING_PREFIX, cutoff, 10_000)
        return sum(self.objects.delete(obj.ref) for obj in stale)

    def storage_path(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket_name}/{self.object_name(key)}"

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "bucket": self.bucket_name, "prefix": self.prefix}

    # -- signed URLs ------------------------------------------------------------------------
    def signed_download_url(self, key: str, filename: str, mime_type: str,
                            ttl_seconds: int) -> tuple[str, int]:
        url = self.objects.signer.sign(
            self.bucket_name, self.object_name(key), ttl_seconds, method="GET",
            response_disposition=content_disposition(filename, inline=False),
            response_type=mime_type or "application/octet-stream")
        return url, expiry_of(url)
