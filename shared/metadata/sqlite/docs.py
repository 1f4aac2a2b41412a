"""``SqliteDocs``: the keyed-document role on SQLite.

A ``docs`` row is a small JSON document keyed ``(kind, key)`` with a revision counter as its
change token, so ``replace_doc``/``delete_doc`` are compare-and-swap on ``rev``. Upload
tickets, event locks and the blob purge queue are built on these.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shared.metadata.base import Doc
from shared.metadata.sqlite.connection import SqliteBase


def _doc(row: sqlite3.Row) -> Doc:
    return Doc(row["kind"], row["key"], json.loads(row["data"]), row["scope"], row["due_at"],
               row["rev"])


class SqliteDocs(SqliteBase):
    """Small keyed documents with optimistic concurrency."""

    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        with self._write() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, ?, ?, ?, 1)",
                               (kind, key, json.dumps(data), scope, due_at))
            if cur.rowcount == 0:
                return None
        return Doc(kind, key, data, scope, due_at, 1)

    def put_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                due_at: str) -> None:
        with self._write() as conn:
            self._put_doc(conn, kind, key, data, scope, due_at)

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
