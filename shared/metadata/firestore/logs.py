"""``FirestoreLog``: the operation-log role on Firestore.

Entries live at ``workspaces/{ws}/logs/{id}`` with ``facets`` (one ``array_contains`` plus
one composite index serves any equality filter) and ``tokens`` (word prefixes for search).
"""

from __future__ import annotations

from typing import Any

from shared import text_index
from shared.cursor import decode_cursor, encode_cursor
from shared.metadata.base import log_search_text
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.files import FILTER_PAGE_ROWS
from shared.metadata.firestore.query import DESC, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.models import LogEntry, LogQuery, Page


class FirestoreLog(FirestoreBase):
    """The operation log."""

    def _log_query(self, workspace_id: str) -> Query:
        return Query(self._ws(workspace_id).collection("logs"), "logs")

    @edge
    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        batch = self.db.batch()
        ref = fd.log_ref(self._ws(workspace_id), entry)
        batch.create(ref, fd.log_doc(entry))
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
    def search_log_candidates(self, workspace_id: str, qwords: list[str], cap: int,
                              session_id: str | None = None) -> list[LogEntry]:
        q = (self._log_query(workspace_id).where("tokens", "array_contains",
                                                 fd.query_token(qwords))
             .order_by("ts", DESC).order_by("id", DESC))

        def accept(row: dict[str, Any]) -> bool:
            return ((session_id is None or row.get("session_id") == session_id)
                    and text_index.matches(qwords, [log_search_text(fd.log_entry(row))]))

        return [fd.log_entry(r) for r in self.fs.scan(q, accept, cap, None, max(1, min(cap, 500)))]
