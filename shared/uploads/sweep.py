"""``UploadSweep``: the direct uploads' part of the scheduled sweep.

1. re-drive every landed object older than ``RECONCILE_AFTER_SECONDS`` through
   ``Finalizer.process`` (the same exactly-once path as events, without the stale drop): it
   catches lost events and events that failed while the scanner was down;
2. expire tickets whose URL died (plus a grace period) with nothing uploaded: a new file's
   pending reservation is released and the ticket deleted;
3. delete event locks past their keep time.

The files' sweep (``FileMaintenance``) runs beside it and asks ``keeps`` before releasing a
pending reservation: one a live ticket still answers for is never released.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import BackendUnavailable, Conflict, RetryLater, ScannerUnavailable
from shared.metadata.base import MetadataStore
from shared.models import Reservation
from shared.storage.base import LandingZone
from shared.timeutil import utcnow
from shared.uploads.finalize import Finalizer
from shared.uploads.tickets import INCOMING_PREFIX, TICKETS, Ticket, ticket_key

log = logging.getLogger(__name__)
BATCH = 200


class UploadSweep:
    """One sweep run over the landing zone, the tickets and the event locks."""

    def __init__(self, finalizer: Finalizer, landing: LandingZone, meta: MetadataStore,
                 reconcile_after_seconds: int) -> None:
        self.finalizer = finalizer
        self.landing = landing
        self.meta = meta
        self.reconcile_after = reconcile_after_seconds

    def run(self) -> dict[str, Any]:
        """Steps 1 and 2 (the locks are purged last, by ``purge_locks``)."""
        return {"redriven": self.redrive(), "tickets_expired": self.expire_tickets()}

    def keeps(self, workspace_id: str, reservation: Reservation) -> bool:
        """True when a direct upload's ticket still answers for this reservation."""
        return self.meta.get_doc(TICKETS, ticket_key(workspace_id, reservation.file_id)) \
            is not None

    def redrive(self) -> dict[str, int]:
        """Process landed objects whose event was lost or failed; counts per outcome."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.reconcile_after)
        outcomes: Counter[str] = Counter()
        for obj in self.landing.landed_before(INCOMING_PREFIX, cutoff, BATCH):
            try:
                outcomes[self.finalizer.process(obj.ref)] += 1
            except (ScannerUnavailable, BackendUnavailable, RetryLater, Conflict) as exc:
                log.warning("re-drive of %s failed: %s", obj.name, exc.message)
                outcomes["failed"] += 1
        return dict(outcomes)

    def expire_tickets(self) -> int:
        """Drop tickets past their URL's life with no object uploaded; free new files' paths."""
        expired = 0
        for doc in self.meta.due_docs(TICKETS, utcnow(), BATCH):
            ticket = Ticket.from_doc(doc)
            if self.landing.info(ticket.incoming_name) is not None:
                continue  # uploaded after all: the re-drive answers for it
            self.meta.release_reservation(ticket.workspace_id, ticket.reservation())
            expired += self.meta.delete_doc(doc)
        return expired

    def purge_locks(self) -> int:
        """Delete event locks past their keep time; how many."""
        return self.finalizer.locks.purge()
