"""``SqliteMetadataStore``: the embedded metadata backend (one SQLite file, WAL, FTS5).

Composed from one mixin per role (``files``, ``edits``, ``folders``, ``logs``, ``memory``,
``docs``, ``keys``, ``outbox``, ``scans``) over one connection base (``connection``); this
module adds workspaces and health.
"""

from __future__ import annotations

import sqlite3

from shared.metadata.base import MetadataStore, new_workspace_id
from shared.metadata.sqlite.docs import SqliteDocs
from shared.metadata.sqlite.edits import SqliteFileEdits
from shared.metadata.sqlite.files import SqliteFiles
from shared.metadata.sqlite.folders import SqliteFolders
from shared.metadata.sqlite.keys import SqliteKeys
from shared.metadata.sqlite.logs import SqliteLog
from shared.metadata.sqlite.memory import SqliteMemory
from shared.metadata.sqlite.outbox import SqliteOutbox
from shared.metadata.sqlite.scans import SqliteScans
from shared.models import Workspace
from shared.timeutil import utcnow


class SqliteMetadataStore(SqliteFiles, SqliteFileEdits, SqliteFolders, SqliteLog, SqliteMemory,
                          SqliteDocs, SqliteKeys, SqliteOutbox, SqliteScans, MetadataStore):
    """Metadata in ``{WORKSPACE_STORAGE_DIR}/.workspace.sqlite3``."""

    name = "sqlite"

    def get_or_create_workspace(self, user_id: str) -> Workspace:
        rows = self._read("SELECT * FROM workspaces WHERE user_id = ?", (user_id,))
        if not rows:
            now = utcnow()
            with self._write() as conn:
                conn.execute(  # seq: the workspace's partition of the search indexes
                    "INSERT OR IGNORE INTO workspaces (id, user_id, created_at, updated_at, seq)"
                    " VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM workspaces))",
                    (new_workspace_id(), user_id, now, now),
                )
            rows = self._read("SELECT * FROM workspaces WHERE user_id = ?", (user_id,))
        row = rows[0]
        return Workspace(row["id"], row["user_id"], row["created_at"], row["updated_at"])

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "path": str(self.path)}
