"""``SqliteFileEdits``: changing a record in place on SQLite (metadata edits, undelete).

Each change is one ``BEGIN IMMEDIATE`` transaction: the preconditions are read and checked
inside it, so two edits that sent the same revision cannot both pass, and the record, its
tag and search indexes, the version history, the purge queue, the log entry and the event
(an undelete is ``restored``; a metadata edit is no state change, so no event) change
together.
"""

from __future__ import annotations

import json
import sqlite3

from shared.errors import Conflict, NotFound
from shared.events import file_event
from shared.metadata.edits import check_edit, edit_entry, edited
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.words import index_file
from shared.mime import extension_of
from shared.models import FileEdit, FileRecord, LogEntry
from shared.timeutil import utcnow


class SqliteFileEdits(SqliteBase):
    """Metadata edits and undeletes."""

    def edit_file(self, workspace_id: str, file_id: str, edit: FileEdit,
                  entry: LogEntry) -> FileRecord:
        with self._write() as conn:
            record = check_edit(self._get(conn, workspace_id, file_id), edit)
            changes = edit.changes(record)
            if not changes:
                return record
            now = utcnow()
            new = edited(record, edit, now)
            rowid = self._rowid(conn, workspace_id, file_id)
            conn.execute(
                "UPDATE files SET description = ?, tags = ?, metadata = ?, updated_at = ?,"
                " revision = ? WHERE rowid = ?",
                (new.description, json.dumps(list(new.tags)), json.dumps(new.metadata), now,
                 new.revision, rowid))
            self._reindex(conn, rowid, new)
            self._insert_log(conn, workspace_id, edit_entry(entry, changes, new.revision))
            self._touch(conn, workspace_id, now)
            return new

    def restore_file(self, workspace_id: str, file_id: str, path: str | None,
                     entry: LogEntry) -> FileRecord:
        with self._write() as conn:
            record = self._get(conn, workspace_id, file_id)
            if record is None or not record.is_deleted or not self._restorable(
                    conn, workspace_id, record):
                raise NotFound("no deleted file with this id can be restored")
            target = path or record.path
            held = conn.execute(
                "SELECT id FROM files WHERE workspace_id = ? AND path = ?"
                " AND deleted_at IS NULL", (workspace_id, target)).fetchone()
            if held is not None:
                raise Conflict("the path is taken; restore to another path", path=target,
                               file_id=held["id"])
            now = utcnow()
            rowid = self._rowid(conn, workspace_id, file_id)
            filename = target.rsplit("/", 1)[-1]
            conn.execute(
                "UPDATE files SET deleted_at = NULL, path = ?, filename = ?, file_extension = ?,"
                " updated_at = ?, revision = revision + 1 WHERE rowid = ?",
                (target, filename, extension_of(filename), now, rowid))
            conn.execute("UPDATE file_versions SET superseded_at = NULL WHERE workspace_id = ?"
                         " AND file_id = ? AND version = ?",
                         (workspace_id, file_id, record.version))
            self._drop_purge(conn, record.storage_key)
            restored = self._get(conn, workspace_id, file_id)
            assert restored is not None
            self._reindex(conn, rowid, restored)
            self._insert_log(conn, workspace_id, entry)
            self._insert_event(conn, file_event("restored", restored, now))
            self._touch(conn, workspace_id, now)
            return restored

    @staticmethod
    def _restorable(conn: sqlite3.Connection, workspace_id: str, record: FileRecord) -> bool:
        """A deleted file whose last version still has its bytes (not purged)."""
        if not record.storage_key:
            return False
        row = conn.execute("SELECT purged FROM file_versions WHERE workspace_id = ?"
                           " AND file_id = ? AND version = ?",
                           (workspace_id, record.id, record.version)).fetchone()
        return row is not None and not row["purged"]

    @staticmethod
    def _rowid(conn: sqlite3.Connection, workspace_id: str, file_id: str) -> int:
        return int(conn.execute("SELECT rowid FROM files WHERE workspace_id = ? AND id = ?",
                                (workspace_id, file_id)).fetchone()[0])

    @staticmethod
    def _reindex(conn: sqlite3.Connection, rowid: int, record: FileRecord) -> None:
        """Tags and search words follow the record's current fields."""
        conn.execute("DELETE FROM file_tags WHERE file_rowid = ?", (rowid,))
        conn.executemany("INSERT INTO file_tags VALUES (?, ?)",
                         [(rowid, tag) for tag in record.tags])
        index_file(conn, rowid, record)
