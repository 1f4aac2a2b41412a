"""The blob-store interface: ``BlobStore``, ``StagedBlob``, and ``LandingZone`` for direct uploads.

Uploads are written to a staging area first and only ``promote``d to their final key after a
clean verdict, so no unscanned byte ever sits where a record could point at it. Promotion is
create-only (the ``if_generation_match=0`` idea): it never replaces an existing blob, because
overwrites get a fresh versioned key and the old blob is purged later.

A store that can take bytes straight from clients (GCS with an incoming bucket) has a
``landing`` zone: the one capability flag the direct-upload package reads
(``supports_direct_uploads``). ``ObjectInfo`` describes one generation there.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from shared.errors import BadRequest
from shared.models import ObjectRef

READ_CHUNK = 1024 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(/[^/\\\x00-\x1f]+)+$")


def check_key(key: str) -> str:
    """Keys are built by the service, never taken from callers; refuse anything odd anyway."""
    if not _KEY_RE.fullmatch(key) or any(part in {".", ".."} for part in key.split("/")):
        raise BadRequest("invalid storage key")
    return key


def blob_key(workspace_id: str, file_id: str, version: int, filename: str) -> str:
    """Where a file version lives: ``{workspace}/{file_id}/v{version}/{filename}``."""
    return check_key(f"{workspace_id}/{file_id}/v{version}/{filename}")


@dataclass(frozen=True)
class ObjectInfo:
    """One stored generation of an object in a bucket (GCS), as listed or looked up."""

    bucket: str
    name: str
    generation: int
    size: int
    time_created: datetime | None
    content_type: str | None
    crc32c: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> ObjectRef:
        """The pinned reference to exactly this generation."""
        return ObjectRef(self.bucket, self.name, self.generation)


class StagedBlob(abc.ABC):
    """Bytes being written before their verdict; ``discard`` removes every trace."""

    size: int = 0

    @abc.abstractmethod
    def write(self, chunk: bytes) -> None:
        """Append bytes."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush; after this only ``promote`` or ``discard`` may follow."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Delete the staged bytes; never raises."""


@dataclass(frozen=True)
class SignedUpload:
    """A create-only PUT URL, the headers the client must send with it, and its expiry."""

    url: str
    headers: dict[str, str]
    expires: int


class LandingZone(abc.ABC):
    """Where direct uploads land before their scan, and where refused ones are kept.

    Clients PUT to a signed URL here; nothing here is ever served. Every operation names an
    exact object generation, so a later PUT to the same name never replaces the bytes that
    were scanned. GCS: the incoming and quarantine buckets (``shared.storage.gcs.landing``).
    """

    @abc.abstractmethod
    def signed_put(self, name: str, content_type: str, size_bytes: int,
                   ttl_seconds: int) -> SignedUpload:
        """A create-only PUT URL for exactly ``size_bytes`` of ``content_type`` at ``name``."""

    @abc.abstractmethod
    def info(self, name: str, generation: int | None = None) -> ObjectInfo | None:
        """That generation of a landed object (the live one when None), or None."""

    @abc.abstractmethod
    def landed_before(self, prefix: str, older_than: datetime,
                      limit: int) -> list[ObjectInfo]:
        """Landed objects under ``prefix`` created before ``older_than`` (the sweep's)."""

    @abc.abstractmethod
    def promote(self, obj: ObjectInfo, key: str) -> None:
        """Copy exactly ``obj`` into the blob store at ``key``: create-only, repeatable."""

    @abc.abstractmethod
    def quarantine(self, obj: ObjectInfo, metadata: dict[str, str]) -> str:
        """Copy exactly ``obj`` into quarantine (create-only, repeatable); its location."""

    @abc.abstractmethod
    def quarantined(self, ref: ObjectRef) -> ObjectInfo | None:
        """The quarantine copy of exactly that generation, or None."""

    @abc.abstractmethod
    def location(self, obj: ObjectInfo) -> str:
        """Where ``obj`` is, for people reading the log (``gcs://bucket/name``)."""

    @abc.abstractmethod
    def delete(self, ref: ObjectRef) -> bool:
        """Delete exactly that generation; False when it was already gone or replaced."""


class BlobStore(abc.ABC):
    """Where file bytes live."""

    name: str = "blobs"
    scheme: str = "blob"
    supports_signed_urls: bool = False
    writes_in_place: bool = False  # ``stage(key)`` writes at ``key`` itself (saves a copy)
    landing: LandingZone | None = None  # where direct uploads land (GCS with incoming buckets)

    @property
    def supports_direct_uploads(self) -> bool:
        """Capability: clients can PUT bytes straight to storage (``landing`` is set)."""
        return self.landing is not None

    @abc.abstractmethod
    def stage(self, key: str | None = None) -> StagedBlob:
        """Open a new staging area for an upload.

        Given the final ``key`` (known when the upload's path was reserved before its bytes),
        a backend that ``writes_in_place`` creates the blob there directly, still create-only,
        and ``promote`` to that same key has nothing left to copy. Others ignore it.
        """

    @abc.abstractmethod
    def promote(self, staged: StagedBlob, key: str) -> None:
        """Move staged bytes to ``key``; raises ``Conflict`` if ``key`` exists."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A stream of the blob's bytes; raises ``NotFound`` when missing."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove a blob; False when it was already gone."""

    @abc.abstractmethod
    def sweep_staging(self, older_than_seconds: float) -> int:
        """Delete staging leftovers of crashed uploads; returns how many."""

    def pinned(self, key: str) -> ObjectRef | None:
        """The exact generation now stored at ``key``, for a scan pinned to it (a rescan);
        None where blobs have no generations (local files: read them as a stream)."""
        return None

    @abc.abstractmethod
    def quarantine(self, key: str, generation: int | None, reason: dict[str, str]) -> str:
        """Move the blob at ``key`` (that ``generation``, where blobs have them) where
        nothing serves it: the quarantine bucket on GCS, the ``.quarantine`` folder on local
        disk. Repeatable; returns where it went (for the log). ``NotFound`` when it is gone."""

    def signed_download_url(self, key: str, filename: str, mime_type: str,
                            ttl_seconds: int) -> tuple[str, int]:
        """A direct GET URL served as an attachment, and its expiry (Unix seconds).

        Only backends with ``supports_signed_urls``; the others raise ``NotImplementedError``.
        """
        raise NotImplementedError(f"the {self.name} blob store has no signed URLs")

    def storage_path(self, key: str) -> str:
        """The record's ``storage_path`` (``local://...`` or ``gcs://...``)."""
        return f"{self.scheme}://{key}"

    def describe(self) -> dict[str, str]:
        """What health checks report about this backend."""
        return {"backend": self.name}
