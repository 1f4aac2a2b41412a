"""``SqliteLog``: the operation-log role on SQLite (append, filtered pages, search).

Entries are written by the other roles inside their own transactions (``_insert_log``);
``append_log`` is for entries that accompany no other change (reads, refused uploads).
"""

from __future__ import annotations

from typing import Any

from shared.cursor import decode_cursor, encode_cursor
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import fts_match, log_of
from shared.models import LogEntry, LogQuery, Page

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
        after = decode_cursor("logs", query.cursor, 2)
        if after is not None:
            where.append("(ts < ? OR (ts = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        rows = self._read(
            f"SELECT * FROM logs WHERE {' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT ?",
            [*params, query.limit + 1],
        )
        items = [log_of(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor("logs", [items[-1].timestamp, items[-1].id]) if more else None
        return Page(items, cursor)

    def count_logs(self, workspace_id: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM logs WHERE workspace_id = ?",
                              (workspace_id,))[0][0])

    def search_log_candidates(self, workspace_id: str, qwords: list[str], cap: int,
                              session_id: str | None = None) -> list[LogEntry]:
        session = " AND session_id = ?" if session_id else ""
        rows = self._read(
            "SELECT * FROM logs WHERE seq IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)"
            f" AND workspace_id = ?{session} ORDER BY seq DESC LIMIT ?",
            [fts_match(qwords), workspace_id, *([session_id] if session_id else []), cap],
        )
        return [log_of(r) for r in rows]
