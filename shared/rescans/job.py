"""``RescanJob``: after a signature update, rescan every file scanned with older signatures.

Started by Cloud Scheduler after the signature mirror's update (the ``rescan`` function)
or by ``make rescan``. One run:

1. asks the scanner which signature database it has loaded now (the target);
2. takes the files whose live version was scanned with an older database, oldest database
   first, then oldest scan (``ScanRole.rescan_candidates``), in batches of ``batch``;
3. rescans each (``Rescans.rescan``: quarantined when the new signatures match), at most
   ``rate`` files a second;
4. saves its position (a keyed doc, ``rescan_jobs/current``) after every batch, so a run
   that is stopped, times out or meets an unavailable scanner is resumed by the next run
   from there; a new database version starts a new pass from the beginning.

It answers its progress: the target version, files scanned and found infected by this pass
(``this_run``: by this run alone), files skipped (changed or gone while rescanned), and how
many still carry older records.
Two runs at once cannot both advance: the position is saved compare-and-swap, and the loser
stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from shared.errors import BackendUnavailable, NotFound, ScannerUnavailable, WorkspaceError
from shared.metadata.base import Doc, MetadataStore
from shared.metadata.scans import RescanCursor
from shared.rescans.service import Rescans
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

JOBS, CURRENT = "rescan_jobs", "current"
FAR = "9999-12-31T00:00:00.000000Z"  # the job doc never comes due for a sweep


class RescanJob:
    """One deployment's rescan pass, resumable."""

    def __init__(self, rescans: Rescans, meta: MetadataStore, batch: int, rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rescans, self.meta = rescans, meta
        self.batch, self.rate, self.clock = batch, rate, clock

    def _state(self, target: int) -> Doc:
        """This pass's saved state: resumed when it is for ``target``, else a new pass."""
        fresh = {"target": target, "cursor": None, "scanned": 0, "infected": 0, "skipped": 0,
                 "started_at": utcnow()}
        doc = self.meta.get_doc(JOBS, CURRENT)
        if doc is None:
            created = self.meta.create_doc(JOBS, CURRENT, fresh, "", FAR)
            return created or self._state(target)
        if doc.data.get("target") == target:
            return doc
        replaced = self.meta.replace_doc(doc, fresh, FAR)
        return replaced or self._state(target)

    def run(self, max_seconds: float | None = None) -> dict[str, Any]:
        """Rescan until done or ``max_seconds`` passed; the progress report."""
        target = self.rescans.scanner.db_version()
        if target is None:
            return {"status": "no signature database version to compare with",
                    "remaining": 0}
        doc, stop_at = self._state(target), None if max_seconds is None else (
            self.clock() + max_seconds)
        status, before = "done", (doc.data["scanned"], doc.data["infected"])
        while True:
            cursor = RescanCursor.from_json(doc.data.get("cursor"))
            records = self.meta.rescan_candidates(target, cursor, self.batch)
            if not records:
                break
            data = self._rescan_batch(records, dict(doc.data))
            saved = self.meta.replace_doc(doc, data, FAR)
            if saved is None:
                status = "another run took over"
                break
            doc = saved
            log.info("rescan to db %d: %d scanned, %d infected so far", target,
                     data["scanned"], data["infected"])
            if stop_at is not None and self.clock() >= stop_at:
                status = "paused (time budget); the next run resumes"
                break
        return {"status": status, "target_db_version": target,
                **{k: doc.data[k] for k in ("scanned", "infected", "skipped", "started_at")},
                "this_run": {"scanned": doc.data["scanned"] - before[0],
                             "infected": doc.data["infected"] - before[1]},
                "remaining": self.meta.count_rescan_candidates(target)}

    def _rescan_batch(self, records: list[Any], data: dict[str, Any]) -> dict[str, Any]:
        """Rescan ``records`` at the configured rate; the state after them. A scanner
        outage raises: the files rescanned so far carry the new version and are no longer
        candidates, so the next run, from the saved position, goes on where this stopped."""
        pause = 1.0 / self.rate
        for record in records:
            started = self.clock()
            try:
                done = self.rescans.rescan(record, details={"job": "rescan"})
            except NotFound:
                done = None  # deleted or purged meanwhile
            except (ScannerUnavailable, BackendUnavailable):
                raise  # what was rescanned left the candidates: the next run goes on
            except WorkspaceError as exc:
                log.warning("rescan skipped %s: %s", record.id, exc.message)
                done = None
            if done is None:
                data["skipped"] += 1
            else:
                data["scanned"] += 1
                data["infected"] += done.status == "infected"
            data["cursor"] = RescanCursor.of(record).to_json()
            time.sleep(max(0.0, pause - (self.clock() - started)))
        return data
