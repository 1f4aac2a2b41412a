"""``GcsLandingZone``: the incoming and quarantine buckets of direct uploads.

Clients PUT to V4 URLs signed for ``incoming``; the finalize handler promotes a clean
generation into the files bucket, or copies it to ``quarantine`` as ``{name}.{generation}``
(so repeated PUTs never collide). Every step names the exact generation (``GcsObjects``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.models import ObjectRef
from shared.storage.base import LandingZone, ObjectInfo, SignedUpload
from shared.storage.gcs.objects import SOURCE_META

if TYPE_CHECKING:
    from shared.storage.gcs.store import GcsBlobStore


class GcsLandingZone(LandingZone):
    """Incoming uploads beside a ``GcsBlobStore`` (same connection and signer)."""

    def __init__(self, store: GcsBlobStore, incoming: str, quarantine: str) -> None:
        self.store = store
        self.objects = store.objects
        self.incoming = incoming
        self.quarantine_bucket = quarantine

    def signed_put(self, name: str, content_type: str, size_bytes: int,
                   ttl_seconds: int) -> SignedUpload:
        return self.objects.signer.signed_put(self.incoming, name, content_type, size_bytes,
                                              ttl_seconds)

    def info(self, name: str, generation: int | None = None) -> ObjectInfo | None:
        return self.objects.info(self.incoming, name, generation)

    def landed_before(self, prefix: str, older_than: datetime,
                      limit: int) -> list[ObjectInfo]:
        return self.objects.list(self.incoming, prefix, older_than, limit)

    def promote(self, obj: ObjectInfo, key: str) -> None:
        self.store.copy_in(obj, key)

    @staticmethod
    def _quarantine_name(ref: ObjectRef) -> str:
        return f"{ref.name}.{ref.generation}"

    def quarantine(self, obj: ObjectInfo, metadata: dict[str, str]) -> str:
        name = self._quarantine_name(obj.ref)
        self.objects.copy(obj, self.quarantine_bucket, name, metadata)
        return f"gcs://{self.quarantine_bucket}/{name}"

    def location(self, obj: ObjectInfo) -> str:
        return f"gcs://{obj.bucket}/{obj.name}"

    def quarantined(self, ref: ObjectRef) -> ObjectInfo | None:
        copy = self.objects.info(self.quarantine_bucket, self._quarantine_name(ref))
        return copy if copy is not None and copy.metadata.get(SOURCE_META) == ref.id else None

    def delete(self, ref: ObjectRef) -> bool:
        return self.objects.delete(ref)
