"""``SqliteLog``: the operation-log role on SQLite (append, filtered pages, search).

Entries are written by the other roles inside their own transactions (``_insert_log``);
``append_log`` is for entries that accompany no other change (reads, refused uploads).
"""

from __future__ import annotations

from typing import Any

from shared import text_index
from shared.cursor import decode_cursor, encode_cursor
from shared.metadata.ranking import log_search_text
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import log_of
from shared.metadata.sqlite.words import fts_match, log_score
from shared.models import Hits, LogEntry, LogQuery, Page

_EQUALITY = ("operation_type", "resource_type", "resource_id", "agent_id", "task_id",
             "session_id")


class SqliteLog(SqliteBase):
    """The operation log."""

    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        with self._write() as conn:
            self._insert_log(conn, workspace_id, entry)

    def list_logs(self, workspace_id: str, query: LogQuery) -> Page[LogEntry]:
        where = ["workspace_id = ?"]
        params: list[Any] = [workspace_id]
        for column in _EQUALITY:
            value = getattr(query, column)
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since:
            where.append("ts >= ?")
            params.append(query.since)
        if query.until:
            where.append("ts < ?")
            params.append(query.until)
        qwords = text_index.query_words(query.text) if query.text else []
        if qwords:  # FTS narrows; the search rule (as on Firestore) decides
            self._log_words_current()
            where.append("seq IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)")
            params.append(fts_match(qwords))
        after = decode_cursor("logs", query.cursor, 2)
        want, items = query.limit + 1, []
        while len(items) < want:
            page_where = list(where)
            page_params = list(params)
            if after is not None:
                page_where.append("(ts < ? OR (ts = ? AND id < ?))")
                page_params += [after[0], after[0], after[1]]
            chunk = want  # FTS5 already applies the rule: the check below rarely drops one
            rows = self._read(f"SELECT * FROM logs WHERE {' AND '.join(page_where)}"
                              " ORDER BY ts DESC, id DESC LIMIT ?", [*page_params, chunk])
            entries = [log_of(r) for r in rows]
            items += [e for e in entries if not qwords
                      or text_index.matches(qwords, [log_search_text(e)])][: want - len(items)]
            if len(rows) < chunk:
                break
            after = [entries[-1].timestamp, entries[-1].id]
        more = len(items) > query.limit
        items = items[: query.limit]
        cursor = encode_cursor("logs", [items[-1].timestamp, items[-1].id]) if more else None
        return Page(items, cursor)

    def oldest_log(self, workspace_id: str) -> str | None:
        rows = self._read("SELECT MIN(ts) FROM logs WHERE workspace_id = ?", (workspace_id,))
        return rows[0][0] if rows else None

    def expire_logs(self, older_than: str, limit: int) -> int:
        with self._write() as conn:
            seqs = [r[0] for r in conn.execute(
                "SELECT seq FROM logs WHERE ts < ? ORDER BY ts LIMIT ?", (older_than, limit))]
            marks = ",".join("?" * len(seqs))
            if seqs:
                conn.execute(f"DELETE FROM logs WHERE seq IN ({marks})", seqs)
                conn.execute(f"DELETE FROM logs_fts WHERE rowid IN ({marks})", seqs)
            return len(seqs)

    def count_logs(self, workspace_id: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM logs WHERE workspace_id = ?",
                              (workspace_id,))[0][0])

    def search_log_candidates(self, workspace_id: str, qwords: list[str], cap: int,
                              session_id: str | None = None) -> list[LogEntry]:
        session = " AND session_id = ?" if session_id else ""
        self._log_words_current()
        rows = self._read(
            "SELECT * FROM logs WHERE seq IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)"
            f" AND workspace_id = ?{session} ORDER BY seq DESC LIMIT ?",
            [fts_match(qwords), workspace_id, *([session_id] if session_id else []), cap],
        )
        return [log_of(r) for r in rows]

    def count_search_logs(self, workspace_id: str, query: str, limit: int,
                          session_id: str | None = None) -> Hits[LogEntry]:
        """Ranked by ``words.log_score`` in SQL (ties newest first): every match counted,
        only the returned page read as entries."""
        qwords = text_index.query_words(query)
        if not qwords:
            return Hits([], 0, False)
        score, score_params = log_score(qwords, "logs.seq")
        self._log_words_current()
        session = " AND logs.session_id = ?" if session_id else ""
        with self._snapshot() as conn:
            ranked = conn.execute(
                "SELECT q, total FROM (SELECT logs.seq AS q, logs.ts AS t, logs.id AS i,"
                f" {score} AS s, COUNT(*) OVER () AS total FROM logs_fts f"
                " CROSS JOIN logs ON logs.seq = f.rowid WHERE f.logs_fts MATCH ?"
                f" AND logs.workspace_id = ?{session}) ORDER BY s DESC, t DESC, i DESC LIMIT ?",
                [*score_params, fts_match(qwords), workspace_id,
                 *([session_id] if session_id else []), limit]).fetchall()
            seqs = [row["q"] for row in ranked]
            marks = ",".join("?" * len(seqs))
            rows = {row["seq"]: log_of(row) for row in conn.execute(
                f"SELECT * FROM logs WHERE seq IN ({marks})", seqs)}
        return Hits([rows[q] for q in seqs], ranked[0]["total"] if ranked else 0, False)
