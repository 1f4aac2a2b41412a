"""``FirestoreScans``: scan records and rescans on Firestore.

Candidates: a collection-group query over live, ready file records whose ``scan_db`` is
below the scanner's, ordered (``scan_db``, ``scanned_at``, ``workspace_id``, ``id``), one
composite index (``indexes.json``). Records written before scan records existed have no
``scan_db`` and are not found by that query. A rescan is one preconditioned batch: the
record, its version's scan record, the log entry and the event.
"""

from __future__ import annotations

import json
from typing import Any

from shared.events import file_event
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.query import COLLECTION_GROUP, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.metadata.scans import RescanCursor
from shared.models import FileRecord, LogEntry
from shared.timeutil import utcnow

ORDER = ("scan_db", "scanned_at", "workspace_id", "id")


class FirestoreScans(FirestoreBase):
    """Rescan candidates and rescans."""

    def _candidates(self, below_db: int) -> Query:
        q = (Query(self.db.collection_group("files"), "files", COLLECTION_GROUP)
             .where("live", "==", True).where("status", "==", "ready")
             .where("scan_db", "<", below_db))
        for name in ORDER:
            q.order_by(name)
        return q

    @edge
    def rescan_candidates(self, below_db: int, after: RescanCursor | None,
                          limit: int) -> list[FileRecord]:
        start = dict(zip(ORDER, after.to_json(), strict=True)) if after else None
        rows = self.fs.stream(self._candidates(below_db).build(start, limit))
        return [fd.record(s.to_dict()) for s in rows]

    @edge
    def count_rescan_candidates(self, below_db: int) -> int:
        return self.fs.count(self._candidates(below_db))

    @edge
    def record_rescan(self, workspace_id: str, seen: FileRecord, scan: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(seen.id))
        log_ref = fd.log_ref(ws, entry)
        infected = scan.get("verdict") == "infected"

        def attempt() -> FileRecord | None:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if (data is None or data["deleted_at"] is not None or data["status"] != "ready"
                    or data["version"] != seen.version
                    or data["storage_key"] != seen.storage_key):
                return None
            now = utcnow()
            changes = {"status": "infected" if infected else "ready", "updated_at": now,
                       "revision": fd.revision_of(data) + 1, **fd.scan_fields(scan)}
            if infected:
                changes["searchable"] = False
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            batch.update(fd.version_ref(ws, seen.id, seen.version),
                         {"scan_json": json.dumps(scan)})
            batch.create(log_ref, self._log_doc(entry))
            record = fd.record({**data, **changes})
            self._put_event(batch, file_event("infected" if infected else "rescanned",
                                              record, now))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return record

        return self.fs.optimistic(attempt)
