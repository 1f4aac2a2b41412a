"""``FileMaintenance``: the files' part of the scheduled sweep.

Deleted files' blobs are purged once their retention runs out (the purge queue also holds the
intents written before each promotion, so a blob whose record never landed is removed too);
staging leftovers of crashed uploads are deleted; reservations abandoned by a crashed upload
are released, unless another owner (a direct upload's ticket) still answers for them.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.files.upload import STALE_UPLOAD_SECONDS
from shared.metadata.base import MetadataStore
from shared.models import Reservation
from shared.storage.base import BlobStore
from shared.timeutil import plus_seconds, utcnow

PURGE_BATCH = 500

# ``keep(workspace_id, reservation)``: True when another owner still answers for it.
Keeper = Callable[[str, Reservation], bool]


class FileMaintenance:
    """Purge and sweep over one deployment's blob and metadata stores."""

    def __init__(self, blobs: BlobStore, meta: MetadataStore) -> None:
        self.blobs = blobs
        self.meta = meta

    def purge(self, batch: int = PURGE_BATCH) -> int:
        """Delete blobs whose retention ran out; returns how many were removed."""
        keys = self.meta.due_purges(utcnow(), batch)
        for key in keys:
            self.blobs.delete(key)
        if keys:
            self.meta.mark_purged(keys)
        return len(keys)

    def sweep(self, stale_after_seconds: int = STALE_UPLOAD_SECONDS,
              keep: Keeper | None = None) -> dict[str, int]:
        """Clean up after crashes: due blobs, staging leftovers, abandoned reservations.

        An upload that died between reserving its path and finalizing (process killed)
        leaves a pending record holding the path; after ``stale_after_seconds`` it is
        released, unless ``keep`` says another owner still answers for it. Staging files
        that old belong to no live request.
        """
        released = 0
        cutoff = plus_seconds(utcnow(), -stale_after_seconds)
        for workspace_id, reservation in self.meta.stale_reservations(cutoff, PURGE_BATCH):
            if keep is not None and keep(workspace_id, reservation):
                continue
            self.meta.release_reservation(workspace_id, reservation)
            released += 1
        return {
            "purged_blobs": self.purge(),
            "staging_removed": self.blobs.sweep_staging(stale_after_seconds),
            "reservations_released": released,
        }
