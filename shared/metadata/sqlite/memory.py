"""``SqliteMemory``: the global-memory role on SQLite.

A change reads the memory, applies the caller's mutation and writes the new version, its
history row, its log entry and its ``memory.updated`` event in one ``BEGIN IMMEDIATE``
transaction, so concurrent appends from any number of processes serialize and none is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.events import memory_event
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import version_of
from shared.models import MemoryChange, MemoryDoc, MemoryVersion
from shared.timeutil import utcnow


class SqliteMemory(SqliteBase):
    """The memory document and its kept versions."""

    def get_memory(self, workspace_id: str) -> MemoryDoc:
        rows = self._read("SELECT * FROM memory WHERE workspace_id = ?", (workspace_id,))
        if not rows:
            return MemoryDoc()
        row = rows[0]
        return MemoryDoc(row["content"], row["version"], row["updated_at"], row["updated_by"])

    def mutate_memory(self, workspace_id: str, mutate: Callable[[MemoryDoc], MemoryChange],
                      updated_by: str | None, keep_versions: int) -> MemoryDoc:
        with self._write() as conn:
            row = conn.execute("SELECT * FROM memory WHERE workspace_id = ?",
                               (workspace_id,)).fetchone()
            current = (MemoryDoc(row["content"], row["version"], row["updated_at"],
                                 row["updated_by"]) if row else MemoryDoc())
            change = mutate(current)
            now = utcnow()
            doc = MemoryDoc(change.content, current.version + 1, now, updated_by)
            conn.execute(
                "INSERT INTO memory VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE"
                " SET content = excluded.content, version = excluded.version,"
                " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (workspace_id, doc.content, doc.version, now, updated_by),
            )
            conn.execute("INSERT INTO memory_versions VALUES (?, ?, ?, ?, ?, ?)",
                         (workspace_id, doc.version, doc.content, now, updated_by,
                          change.operation))
            conn.execute("DELETE FROM memory_versions WHERE workspace_id = ? AND version <= ?",
                         (workspace_id, doc.version - keep_versions))
            self._insert_log(conn, workspace_id, change.entry)
            self._insert_event(conn, memory_event(workspace_id, doc.version, len(doc.content),
                                                  change.operation, now))
            self._touch(conn, workspace_id, now)
            return doc

    def list_memory_versions(self, workspace_id: str) -> list[MemoryVersion]:
        rows = self._read("SELECT * FROM memory_versions WHERE workspace_id = ?"
                          " ORDER BY version DESC", (workspace_id,))
        return [version_of(r) for r in rows]

    def get_memory_version(self, workspace_id: str, version: int) -> MemoryVersion | None:
        rows = self._read("SELECT * FROM memory_versions WHERE workspace_id = ? AND version = ?",
                          (workspace_id, version))
        return version_of(rows[0]) if rows else None
