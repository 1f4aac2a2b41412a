"""``FirestoreLog``: the operation-log role on Firestore.

Entries live at ``workspaces/{ws}/logs/{id}`` with ``facets`` (one ``array_contains`` plus
one composite index serves any equality filter) and ``tokens`` (word prefixes for search).
"""

from __future__ import annotations

from shared.cursor import decode_cursor, encode_cursor
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.files import FILTER_PAGE_ROWS
from shared.metadata.firestore.query import COLLECTION_GROUP, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.models import LogEntry, LogQuery, Page

BATCH_WRITES = 400  # Firestore commits at most 500 writes


class FirestoreLog(FirestoreBase):
    """The operation log."""

    @edge
    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        batch = self.db.batch()
        ref = fd.log_ref(self._ws(workspace_id), entry)
        batch.create(ref, self._log_doc(entry))
        self.fs.commit(batch, marker=ref)

    @edge
    def list_logs(self, workspace_id: str, query: LogQuery) -> Page[LogEntry]:
        q, accept, exact = fd.log_list_query(self._ws(workspace_id).collection("logs"), query)
        after = decode_cursor("logs", query.cursor, 2)
        want = query.limit + 1
        rows = self.fs.scan(q, accept, want, {"ts": after[0], "id": after[1]} if after else None,
                            want if exact else max(want, FILTER_PAGE_ROWS))
        items = [fd.log_entry(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor("logs", [items[-1].timestamp, items[-1].id]) if more else None
        return Page(items, cursor)

    @edge
    def count_logs(self, workspace_id: str) -> int:
        return self.fs.count(self._log_query(workspace_id))

    @edge
    def oldest_log(self, workspace_id: str) -> str | None:
        rows = self.fs.stream(self._log_query(workspace_id).order_by("ts").build(limit=1))
        return rows[0].get("ts") if rows else None

    @edge
    def expire_logs(self, older_than: str, limit: int) -> int:
        """The TTL policy's fallback: a collection-group query on ``ts`` (its single-field
        index is declared in ``infra/firestore.tf``), deleted in batches."""
        q = Query(self.db.collection_group("logs"), "logs", COLLECTION_GROUP).where(
            "ts", "<", older_than)
        snaps = self.fs.stream(q.build(limit=limit, select=["ts"]))
        for start in range(0, len(snaps), BATCH_WRITES):
            batch = self.db.batch()
            for snap in snaps[start: start + BATCH_WRITES]:
                batch.delete(snap.reference)
            batch.commit(**self.fs.write)
        return len(snaps)
