"""``Reconciler``: the scheduled sweep, including the direct-upload reconciliation.

``run`` does, in order:

1. re-drive every object in the incoming bucket older than ``RECONCILE_AFTER_SECONDS``
   through ``ScanUploads.process`` (the same exactly-once path as events, without the stale
   drop): it catches lost events and events that failed while the scanner was down;
2. expire tickets whose URL died (plus a grace period) with nothing uploaded: a new file's
   pending reservation is released and the ticket deleted;
3. ``FileService.sweep`` (purge due blobs, staging leftovers, stale inline reservations),
   leaving reservations that a ticket still answers for;
4. delete event claims past their keep time.

Without the direct-upload configuration it is just step 3.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.direct_upload import ticket_exists
from shared.errors import BackendUnavailable, Conflict, RetryLater, ScannerUnavailable
from shared.files import FileService
from shared.scan_uploads import ScanUploads
from shared.tickets import INCOMING_PREFIX, TICKETS, Ticket
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
BATCH = 200


class Reconciler:
    """One sweep run over the configured backends."""

    def __init__(self, files: FileService, scans: ScanUploads | None,
                 reconcile_after_seconds: int) -> None:
        self.files = files
        self.scans = scans
        self.reconcile_after = reconcile_after_seconds

    def run(self) -> dict[str, Any]:
        """Sweep once; returns what was done, as JSON-ready counts."""
        report: dict[str, Any] = {}
        if self.scans is not None:
            report["redriven"] = self.redrive()
            report["tickets_expired"] = self.expire_tickets()
        report.update(self.files.sweep(
            keep=lambda ws, reservation: ticket_exists(self.files, ws, reservation.file_id)))
        if self.scans is not None:
            report["claims_purged"] = self.scans.claims.purge()
        return report

    def redrive(self) -> dict[str, int]:
        """Process incoming objects whose event was lost or failed; counts per outcome."""
        assert self.scans is not None
        cutoff = datetime.now(UTC) - timedelta(seconds=self.reconcile_after)
        outcomes: Counter[str] = Counter()
        for obj in self.scans.objects.list(self.scans.incoming, INCOMING_PREFIX, cutoff, BATCH):
            try:
                outcomes[self.scans.process(obj.bucket, obj.name, obj.generation)] += 1
            except (ScannerUnavailable, BackendUnavailable, RetryLater, Conflict) as exc:
                log.warning("re-drive of %s failed: %s", obj.name, exc.message)
                outcomes["failed"] += 1
        return dict(outcomes)

    def expire_tickets(self) -> int:
        """Drop tickets past their URL's life with no object uploaded; free new files' paths."""
        assert self.scans is not None
        meta, expired = self.files.meta, 0
        for doc in meta.due_docs(TICKETS, utcnow(), BATCH):
            ticket = Ticket.from_doc(doc)
            if self.scans.objects.info(self.scans.incoming, ticket.incoming_name) is not None:
                continue  # uploaded after all: the re-drive answers for it
            meta.release_reservation(ticket.workspace_id, ticket.reservation())
            expired += meta.delete_doc(doc)
        return expired
