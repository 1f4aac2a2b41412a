"""``Maintenance``: one run of the scheduled sweep (``make sweep``, the ``sweep`` function).

In order: the direct uploads' re-drive and ticket expiry (``UploadSweep``), the files' purge
and sweep (``FileMaintenance``, which keeps reservations a live ticket answers for), the old
event locks, folder moves left idle (resumed) or finished long ago (forgotten), log entries
past ``LOG_RETENTION_DAYS``, outbox events past ``EVENT_RETENTION_DAYS``, and, where a topic
is configured, a short drain of the outbox (the backstop of the publisher's trigger). Every
step is idempotent, so an extra run does no harm.
"""

from __future__ import annotations

from typing import Any

from shared.files.folders import FolderService
from shared.files.maintenance import FileMaintenance
from shared.metadata.base import MetadataStore
from shared.outbox.publisher import EventPublisher
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.service import DirectUploads

LOG_EXPIRY_BATCH = 400
LOG_EXPIRY_BATCHES = 25


class Maintenance:
    """The sweep over one deployment's backends."""

    def __init__(self, files: FileMaintenance, uploads: DirectUploads, meta: MetadataStore,
                 log_retention_days: int, event_retention_days: int = 7,
                 publisher: EventPublisher | None = None,
                 folders: FolderService | None = None) -> None:
        self.files = files
        self.uploads = uploads
        self.meta = meta
        self.log_retention_days = log_retention_days
        self.event_retention_days = event_retention_days
        self.publisher = publisher
        self.folders = folders

    def run(self) -> dict[str, Any]:
        """Sweep once; returns what was done, as JSON-ready counts."""
        report = self.uploads.sweep()
        report.update(self.files.sweep(keep=self.uploads.keeps))
        report.update(self.uploads.purge_locks())
        if self.folders is not None:
            report.update(self.folders.redrive())
        report["logs_expired"] = self.expire_logs()
        cutoff = plus_seconds(utcnow(), -self.event_retention_days * 86400)
        report["events_expired"] = self.meta.expire_events(cutoff, LOG_EXPIRY_BATCH)
        if self.publisher is not None:
            report["events_published"] = self.publisher.drain(max_seconds=30)["published"]
        return report

    def expire_logs(self, batches: int = LOG_EXPIRY_BATCHES) -> int:
        """Delete log entries older than ``LOG_RETENTION_DAYS`` (0: keep them all); at most
        ``batches`` batches a run, so one run stays short (the next one goes on)."""
        if not self.log_retention_days:
            return 0
        cutoff = plus_seconds(utcnow(), -self.log_retention_days * 86400)
        removed = 0
        for _ in range(batches):
            done = self.meta.expire_logs(cutoff, LOG_EXPIRY_BATCH)
            removed += done
            if done < LOG_EXPIRY_BATCH:
                break
        return removed
