"""``SqliteLog``: the operation-log role on SQLite (append, filtered pages, search).

Entries are written by the other roles inside their own transactions (``_insert_log``);
``append_log`` is for entries that accompany no other change (reads, refused uploads).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from shared import text_index
from shared.cursor import decode_cursor, encode_cursor
from shared.metadata.ranking import log_search_text
from shared.metadata.sqlite import ranked
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import log_of
from shared.metadata.sqlite.words import (
    LOG_WORDS,
    ROW_MASK,
    fts_match,
    index_key,
    log_score,
    session_token,
    span,
    workspace_key,
)
from shared.models import Hits, LogEntry, LogQuery, Page

# The seqs of a workspace's entries that match an FTS5 query (params: query, ``span``).
_MATCHING = (f"SELECT rowid & {ROW_MASK} FROM logs_search WHERE logs_search MATCH ?"
             " AND rowid BETWEEN ? AND ?")
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
            where.append(f"seq IN ({_MATCHING})")
            params += [fts_match(qwords, LOG_WORDS), *self._log_span(workspace_id)]
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
            rows = conn.execute(
                "SELECT seq, (SELECT w.seq FROM workspaces w WHERE w.id = logs.workspace_id)"
                " FROM logs WHERE ts < ? ORDER BY ts LIMIT ?", (older_than, limit)).fetchall()
            seqs = [row[0] for row in rows]
            keys = [index_key(row[1], row[0]) for row in rows if row[1] is not None]
            if seqs:
                conn.execute(f"DELETE FROM logs WHERE seq IN ({','.join('?' * len(seqs))})",
                             seqs)
            if keys:
                conn.execute("DELETE FROM logs_search WHERE rowid IN"
                             f" ({','.join('?' * len(keys))})", keys)
            return len(seqs)

    def count_logs(self, workspace_id: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM logs WHERE workspace_id = ?",
                              (workspace_id,))[0][0])

    def count_search_logs(self, workspace_id: str, query: str, limit: int,
                          session_id: str | None = None) -> Hits[LogEntry]:
        """Every match counted, only the returned page read as entries: by score level from
        the word index (``ranked``) when many match, else every match ranked by
        ``words.log_score`` in SQL (ties newest first)."""
        qwords = text_index.query_words(query)
        if not qwords:
            return Hits([], 0, False)
        self._log_words_current()
        with self._snapshot() as conn:
            ws = workspace_key(conn, workspace_id)
            if ws is None:
                return Hits([], 0, False)
            scope = session_token(session_id) if session_id else None
            total = ranked.count(conn, "logs_search", qwords, ws, scope)
            if ranked.use_levels(qwords, total):
                page = ranked.log_page(conn, qwords, ws, limit, scope)
            else:
                page, total = self._logs_ranked_in_sql(conn, ws, qwords, session_id, limit)
            marks = ",".join("?" * len(page))
            rows = {row["seq"]: log_of(row) for row in conn.execute(
                f"SELECT * FROM logs WHERE seq IN ({marks}) AND +workspace_id = ?",
                [*page, workspace_id])} if page else {}
        return Hits([rows[q] for q in page if q in rows], total, False)

    @staticmethod
    def _logs_ranked_in_sql(conn: sqlite3.Connection, ws: int, qwords: list[str],
                       session_id: str | None, limit: int) -> tuple[list[int], int]:
        """Every match scored by ``words.log_score``: the page's seqs and the total."""
        score, score_params = log_score(qwords, "f.rowid", ws)
        session = " AND logs.session_id = ?" if session_id else ""
        rows = conn.execute(
            "SELECT q, total FROM (SELECT logs.seq AS q, logs.ts AS t, logs.id AS i,"
            f" {score} AS s, COUNT(*) OVER () AS total FROM logs_search f"
            f" CROSS JOIN logs ON logs.seq = (f.rowid & {ROW_MASK})"
            " WHERE f.logs_search MATCH ? AND f.rowid BETWEEN ? AND ?"
            f"{session}) ORDER BY s DESC, t DESC, i DESC LIMIT ?",
            [*score_params, fts_match(qwords, LOG_WORDS), *span(ws),
             *([session_id] if session_id else []), limit]).fetchall()
        return [row["q"] for row in rows], rows[0]["total"] if rows else 0

    def _log_span(self, workspace_id: str) -> tuple[int, int]:
        """The workspace's rowid range in ``logs_search`` (empty when it has none)."""
        ws = workspace_key(self._conn(), workspace_id)
        return span(ws) if ws is not None else (1, 0)
