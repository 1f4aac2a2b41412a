"""``SqliteScans``: scan records and rescans on SQLite.

Candidates come from the partial index ``files_rescan`` (status, scan_db, scanned_at,
workspace, id over live records) in exactly the rescan order; a rescan updates the record,
its version's scan record, the log and the outbox in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
from typing import Any

from shared.events import file_event
from shared.metadata.scans import RescanCursor, scan_db, scan_time
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import FILE_COLUMNS, record_of
from shared.metadata.sqlite.words import unindex_file
from shared.models import FileRecord, LogEntry
from shared.timeutil import utcnow

_CANDIDATES = "deleted_at IS NULL AND status = 'ready' AND scan_db < ?"


class SqliteScans(SqliteBase):
    """Rescan candidates and rescans."""

    def rescan_candidates(self, below_db: int, after: RescanCursor | None,
                          limit: int) -> list[FileRecord]:
        where, params = _CANDIDATES, [below_db]
        if after is not None:
            where += " AND (scan_db, scanned_at, workspace_id, id) > (?, ?, ?, ?)"
            params += after.to_json()
        rows = self._read(f"SELECT {FILE_COLUMNS} FROM files WHERE {where}"
                          " ORDER BY scan_db, scanned_at, workspace_id, id LIMIT ?",
                          [*params, limit])
        return [record_of(r) for r in rows]

    def count_rescan_candidates(self, below_db: int) -> int:
        return int(self._read(f"SELECT COUNT(*) FROM files WHERE {_CANDIDATES}",
                              (below_db,))[0][0])

    def record_rescan(self, workspace_id: str, seen: FileRecord, scan: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        infected = scan.get("verdict") == "infected"
        with self._write() as conn:
            current = self._get(conn, workspace_id, seen.id)
            if (current is None or current.is_deleted or current.status != "ready"
                    or current.version != seen.version
                    or current.storage_key != seen.storage_key):
                return None
            now, text = utcnow(), json.dumps(scan)
            conn.execute(
                "UPDATE files SET status = ?, scan = ?, scan_db = ?, scanned_at = ?,"
                " updated_at = ?, revision = revision + 1 WHERE workspace_id = ? AND id = ?",
                ("infected" if infected else "ready", text, scan_db(scan), scan_time(scan),
                 now, workspace_id, seen.id))
            conn.execute("UPDATE file_versions SET scan = ? WHERE workspace_id = ?"
                         " AND file_id = ? AND version = ?",
                         (text, workspace_id, seen.id, seen.version))
            self._insert_log(conn, workspace_id, entry)
            record = self._get(conn, workspace_id, seen.id)
            assert record is not None
            if infected:  # search finds live, ready files only
                unindex_file(conn, int(conn.execute(
                    "SELECT rowid FROM files WHERE workspace_id = ? AND id = ?",
                    (workspace_id, seen.id)).fetchone()[0]))
            self._insert_event(conn, file_event("infected" if infected else "rescanned",
                                                record, now))
            self._touch(conn, workspace_id, now)
            return record
