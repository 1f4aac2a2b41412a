"""``SqliteDocsMixin``: the keyed-document primitives, infection marking and usage for SQLite.

Kept apart from ``sqlite.py`` (one concept per module): a ``docs`` table of small JSON
documents keyed ``(kind, key)`` with a revision counter as the change token, so
``replace_doc``/``delete_doc`` are compare-and-swap on ``rev``. Upload tickets and event
claims are built on these (``shared.uploads.tickets``, ``shared.claims``).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from typing import Any

from shared.metadata.base import Doc
from shared.models import FileRecord, LogEntry
from shared.timeutil import utcnow

DOCS_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    scope TEXT NOT NULL,
    due_at TEXT NOT NULL,
    rev INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS docs_due ON docs (kind, due_at);
CREATE INDEX IF NOT EXISTS docs_scope ON docs (kind, scope);
"""


def _doc(row: sqlite3.Row) -> Doc:
    return Doc(row["kind"], row["key"], json.loads(row["data"]), row["scope"], row["due_at"],
               row["rev"])


class SqliteDocsMixin:
    """Mixed into ``SqliteMetadataStore``; uses its ``_write``, ``_read``, ``_get`` helpers."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:  # pragma: no cover
        raise NotImplementedError

    def _read(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:  # pragma: no cover
        raise NotImplementedError

    def _get(self, conn: sqlite3.Connection, workspace_id: str,
             file_id: str) -> FileRecord | None:  # pragma: no cover
        raise NotImplementedError

    def _insert_log(self, conn: sqlite3.Connection, workspace_id: str,
                    entry: LogEntry) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- docs -------------------------------------------------------------------------
    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        with self._write() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, ?, ?, ?, 1)",
                               (kind, key, json.dumps(data), scope, due_at))
            if cur.rowcount == 0:
                return None
        return Doc(kind, key, data, scope, due_at, 1)

    def get_doc(self, kind: str, key: str) -> Doc | None:
        rows = self._read("SELECT * FROM docs WHERE kind = ? AND key = ?", (kind, key))
        return _doc(rows[0]) if rows else None

    def replace_doc(self, doc: Doc, data: dict[str, Any], due_at: str) -> Doc | None:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE docs SET data = ?, due_at = ?, rev = rev + 1"
                " WHERE kind = ? AND key = ? AND rev = ?",
                (json.dumps(data), due_at, doc.kind, doc.key, doc.token))
            if cur.rowcount == 0:
                return None
        assert isinstance(doc.token, int)
        return Doc(doc.kind, doc.key, data, doc.scope, due_at, doc.token + 1)

    def delete_doc(self, doc: Doc) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM docs WHERE kind = ? AND key = ? AND rev = ?",
                               (doc.kind, doc.key, doc.token))
            return cur.rowcount > 0

    def due_docs(self, kind: str, now: str, limit: int) -> list[Doc]:
        rows = self._read("SELECT * FROM docs WHERE kind = ? AND due_at <= ? ORDER BY due_at"
                          " LIMIT ?", (kind, now, limit))
        return [_doc(r) for r in rows]

    def scoped_docs(self, kind: str, scope: str, limit: int) -> list[Doc]:
        rows = self._read("SELECT * FROM docs WHERE kind = ? AND scope = ? LIMIT ?",
                          (kind, scope, limit))
        return [_doc(r) for r in rows]

    # -- files ------------------------------------------------------------------------
    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, metadata FROM files WHERE workspace_id = ? AND id = ?"
                " AND status = 'pending' AND version = 0 AND deleted_at IS NULL",
                (workspace_id, file_id)).fetchone()
            if row is None:
                return None
            metadata = {**json.loads(row["metadata"]), "scan": details}
            conn.execute("UPDATE files SET status = 'infected', metadata = ?, updated_at = ?"
                         " WHERE rowid = ?", (json.dumps(metadata), utcnow(), row["rowid"]))
            self._insert_log(conn, workspace_id, entry)
            return self._get(conn, workspace_id, file_id)

    def usage_bytes(self, workspace_id: str) -> int:
        rows = self._read("SELECT COALESCE(SUM(size_bytes), 0) FROM files"
                          " WHERE workspace_id = ? AND deleted_at IS NULL", (workspace_id,))
        return int(rows[0][0])
