"""``FirestoreSearch``: ranked search of files and log entries on Firestore.

Firestore cannot score or count word matches, so a search reads candidates (every live,
ready record, or entry, whose ``tokens`` hold the query's rarest word prefix, checked
against every query word) and ranks them in Python by ``shared.metadata.ranking``, the
rule SQLite applies in SQL. Reading is bounded: past ``SEARCH_CANDIDATE_CAP`` candidates
the total is a lower bound and the answer says so (``Hits.total_is_lower_bound``). A
session's scope is applied while reading, before the cap, so other sessions' matches never
crowd out its own.
"""

from __future__ import annotations

from typing import Any

from shared import text_index
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.query import DESC, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.metadata.ranking import log_search_text, newest_first, rank_record
from shared.models import FileRecord, Hits, LogEntry

SEARCH_CANDIDATE_CAP = 2000  # candidates ranked at most per search (then a lower bound)


class FirestoreSearch(FirestoreBase):
    """``count_search_files`` and ``count_search_logs`` over bounded candidate reads."""

    @edge
    def search_candidates(self, workspace_id: str, qwords: list[str], file_type: str | None,
                          cap: int, path_prefix: str | None = None) -> list[FileRecord]:
        """Live, ready records whose words have every query word as a prefix (unranked,
        at most ``cap``); ``path_prefix`` (a folder ending in '/') is applied first."""
        q = (Query(self._files(workspace_id), "files")
             .where("searchable", "==", True)
             .where("tokens", "array_contains", fd.query_token(qwords)).order_by("number"))

        def accept(row: dict[str, Any]) -> bool:
            return (fd.search_match(row, qwords, file_type)
                    and fd.in_prefix(row["path"], path_prefix))

        rows = self.fs.scan(q, accept, cap, None, max(1, min(cap, 500)))
        return [fd.record(r) for r in rows]

    @edge
    def search_log_candidates(self, workspace_id: str, qwords: list[str], cap: int,
                              session_id: str | None = None) -> list[LogEntry]:
        """Entries whose words have every query word as a prefix (unranked, newest first,
        at most ``cap``), only those written in ``session_id`` when given."""
        q = (self._log_query(workspace_id).where("tokens", "array_contains",
                                                 fd.query_token(qwords))
             .order_by("ts", DESC).order_by("id", DESC))

        def accept(row: dict[str, Any]) -> bool:
            return ((session_id is None or row.get("session_id") == session_id)
                    and text_index.matches(qwords, [log_search_text(fd.log_entry(row))]))

        return [fd.log_entry(r) for r in self.fs.scan(q, accept, cap, None, max(1, min(cap, 500)))]

    def count_search_files(self, workspace_id: str, query: str, file_type: str | None,
                           limit: int, path_prefix: str | None = None) -> Hits[FileRecord]:
        qwords = text_index.query_words(query)
        if not qwords:
            return Hits([], 0, False)
        candidates = self.search_candidates(workspace_id, qwords, file_type,
                                            SEARCH_CANDIDATE_CAP + 1, path_prefix)
        capped = len(candidates) > SEARCH_CANDIDATE_CAP
        ranked = [(rank_record(qwords, r), r) for r in candidates[:SEARCH_CANDIDATE_CAP]]
        hits = sorted(((s, r) for s, r in ranked if s is not None),
                      key=lambda pair: (-pair[0], pair[1].number))
        return Hits([r for _, r in hits[:limit]], len(hits), capped)

    def count_search_logs(self, workspace_id: str, query: str, limit: int,
                          session_id: str | None = None) -> Hits[LogEntry]:
        qwords = text_index.query_words(query)
        if not qwords:
            return Hits([], 0, False)
        candidates = self.search_log_candidates(workspace_id, qwords,
                                                SEARCH_CANDIDATE_CAP + 1, session_id)
        capped = len(candidates) > SEARCH_CANDIDATE_CAP
        ranked = [(text_index.rank(qwords, [(log_search_text(e), 1.0)]), e)
                  for e in candidates[:SEARCH_CANDIDATE_CAP]]
        hits = sorted(((s, e) for s, e in ranked if s is not None),
                      key=lambda pair: (-pair[0], newest_first(pair[1])))
        return Hits([e for _, e in hits[:limit]], len(hits), capped)
