"""``SqliteMetadataStore``: the embedded metadata backend (one SQLite file, WAL, FTS5).

Several server processes may share one storage directory, so every write runs in a
``BEGIN IMMEDIATE`` transaction (SQLite's write lock, held across processes) and the
invariants are enforced by the schema itself: a partial unique index makes a live virtual
path unique, and file numbers come from a per-workspace counter bumped inside the same
transaction that inserts the record.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.cursor import decode_cursor, encode_cursor
from shared.errors import BackendUnavailable, Conflict, NotFound
from shared.metadata.base import (
    MetadataStore,
    format_file_id,
    log_search_text,
    new_workspace_id,
    search_text,
)
from shared.metadata.sqlite_docs import DOCS_SCHEMA, SqliteDocsMixin
from shared.mime import extension_of
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    Finalization,
    LogEntry,
    LogQuery,
    MemoryChange,
    MemoryDoc,
    MemoryVersion,
    Page,
    Reservation,
    Workspace,
)
from shared.timeutil import plus_seconds, utcnow

DB_NAME = ".workspace.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    file_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    number INTEGER NOT NULL,
    filename TEXT NOT NULL,
    path TEXT NOT NULL,
    session_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_by TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    storage_key TEXT NOT NULL DEFAULT '',
    storage_path TEXT NOT NULL DEFAULT '',
    mime_type TEXT NOT NULL DEFAULT '',
    file_type TEXT NOT NULL DEFAULT 'other',
    file_extension TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    checksum TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    reserved_version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    UNIQUE (workspace_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS files_live_path
    ON files (workspace_id, path) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS files_ws_number ON files (workspace_id, number);
CREATE INDEX IF NOT EXISTS files_pending ON files (status, updated_at);
CREATE TABLE IF NOT EXISTS file_tags (
    file_rowid INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (file_rowid, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_tags_tag ON file_tags (tag, file_rowid);
CREATE VIRTUAL TABLE IF NOT EXISTS files_fts
    USING fts5(text, tokenize = "unicode61 remove_diacritics 0");
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    details TEXT NOT NULL,
    agent_id TEXT,
    task_id TEXT
);
CREATE INDEX IF NOT EXISTS logs_ws_ts ON logs (workspace_id, ts DESC, id DESC);
CREATE VIRTUAL TABLE IF NOT EXISTS logs_fts
    USING fts5(text, tokenize = "unicode61 remove_diacritics 0");
CREATE TABLE IF NOT EXISTS memory (
    workspace_id TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT
);
CREATE TABLE IF NOT EXISTS memory_versions (
    workspace_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_by TEXT,
    operation TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
CREATE TABLE IF NOT EXISTS purge_queue (
    storage_key TEXT PRIMARY KEY,
    due_at TEXT NOT NULL
);
"""

_FILE_COLUMNS = (
    "id, workspace_id, number, filename, path, session_id, description, tags, created_by, "
    "metadata, storage_key, storage_path, mime_type, file_type, file_extension, size_bytes, "
    "checksum, status, version, created_at, updated_at, deleted_at"
)


def _record(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        number=row["number"],
        filename=row["filename"],
        path=row["path"],
        session_id=row["session_id"],
        description=row["description"],
        tags=tuple(json.loads(row["tags"])),
        created_by=row["created_by"],
        metadata=json.loads(row["metadata"]),
        storage_key=row["storage_key"],
        storage_path=row["storage_path"],
        mime_type=row["mime_type"],
        file_type=row["file_type"],
        file_extension=row["file_extension"],
        size_bytes=row["size_bytes"],
        checksum=row["checksum"],
        status=row["status"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _log(row: sqlite3.Row) -> LogEntry:
    return LogEntry(
        id=row["id"],
        timestamp=row["ts"],
        operation_type=row["operation_type"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        details=json.loads(row["details"]),
        agent_id=row["agent_id"],
        task_id=row["task_id"],
    )


def _version(row: sqlite3.Row) -> MemoryVersion:
    return MemoryVersion(row["version"], row["content"], row["created_at"], row["updated_by"],
                         row["operation"])


def _fts_match(qwords: list[str]) -> str:
    """An FTS5 query: every word as a quoted prefix term, all required."""
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in qwords)


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """``path >= lo AND path < hi`` selects a folder; prefixes end with '/', and '0' > '/'."""
    return prefix, prefix[:-1] + "0"


class SqliteMetadataStore(SqliteDocsMixin, MetadataStore):
    """Metadata in ``{WORKSPACE_STORAGE_DIR}/.workspace.sqlite3``."""

    name = "sqlite"

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._conn().executescript(SCHEMA + DOCS_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"cannot open metadata database: {exc}") from exc

    # -- connections ------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("metadata store is busy") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("metadata store unavailable") from exc

    # -- workspaces -------------------------------------------------------------------
    def get_or_create_workspace(self, user_id: str) -> Workspace:
        rows = self._read("SELECT * FROM workspaces WHERE user_id = ?", (user_id,))
        if not rows:
            now = utcnow()
            with self._write() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO workspaces (id, user_id, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?)",
                    (new_workspace_id(), user_id, now, now),
                )
            rows = self._read("SELECT * FROM workspaces WHERE user_id = ?", (user_id,))
        row = rows[0]
        return Workspace(row["id"], row["user_id"], row["created_at"], row["updated_at"])

    def _touch(self, conn: sqlite3.Connection, workspace_id: str, now: str) -> None:
        conn.execute("UPDATE workspaces SET updated_at = ? WHERE id = ?", (now, workspace_id))

    # -- files ------------------------------------------------------------------------
    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        now = utcnow()
        with self._write() as conn:
            live = conn.execute(
                "SELECT rowid, id, number, status, version, reserved_version, storage_key"
                " FROM files WHERE workspace_id = ? AND path = ? AND deleted_at IS NULL",
                (workspace_id, draft.path),
            ).fetchone()
            if live is not None:
                if live["status"] == "pending" and live["version"] == 0:
                    raise Conflict("an upload to this path is already in progress",
                                   path=draft.path)
                if not overwrite:
                    raise Conflict("a file already exists at this path",
                                   path=draft.path, file_id=live["id"])
                version = max(live["reserved_version"], live["version"]) + 1
                conn.execute("UPDATE files SET reserved_version = ? WHERE rowid = ?",
                             (version, live["rowid"]))
                return Reservation(live["id"], live["number"], version, False,
                                   live["storage_key"] or None)
            number = conn.execute(
                "UPDATE workspaces SET file_seq = file_seq + 1 WHERE id = ? RETURNING file_seq",
                (workspace_id,),
            ).fetchone()[0]
            file_id = format_file_id(number)
            conn.execute(
                "INSERT INTO files (id, workspace_id, number, filename, path, session_id,"
                " description, tags, created_by, metadata, status, version, reserved_version,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,'pending',0,1,?,?)",
                (file_id, workspace_id, number, draft.filename, draft.path, draft.session_id,
                 draft.description, json.dumps(list(draft.tags)), draft.created_by,
                 json.dumps(draft.metadata), now, now),
            )
            return Reservation(file_id, number, 1, True, None)

    def finalize_file(self, workspace_id: str, done: Finalization, entry: LogEntry,
                      retention_seconds: int) -> tuple[FileRecord, str | None]:
        draft, reservation, facts = done.draft, done.reservation, done.facts
        storage_key, storage_path = done.storage_key, done.storage_path
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, version, storage_key, deleted_at FROM files"
                " WHERE workspace_id = ? AND id = ?",
                (workspace_id, reservation.file_id),
            ).fetchone()
            if row is None or row["deleted_at"] is not None:
                raise Conflict("the file was deleted while it was being uploaded")
            if row["version"] >= reservation.version:
                # A newer overwrite finished first: it stays; this upload's blob is orphaned.
                conn.execute("INSERT OR REPLACE INTO purge_queue VALUES (?, ?)",
                             (storage_key, now))
                self._insert_log(conn, workspace_id, entry)
                rec = self._get(conn, workspace_id, reservation.file_id)
                assert rec is not None
                return rec, storage_key
            conn.execute(
                "UPDATE files SET filename = ?, description = ?, tags = ?, created_by = ?,"
                " metadata = ?, storage_key = ?, storage_path = ?, mime_type = ?, file_type = ?,"
                " file_extension = ?, size_bytes = ?, checksum = ?, status = 'ready',"
                " version = ?, updated_at = ? WHERE rowid = ?",
                (draft.filename, draft.description, json.dumps(list(draft.tags)),
                 draft.created_by, json.dumps(draft.metadata), storage_key, storage_path,
                 facts.mime_type, facts.file_type, extension_of(draft.filename), facts.size_bytes,
                 facts.checksum, reservation.version, now, row["rowid"]),
            )
            conn.execute("DELETE FROM file_tags WHERE file_rowid = ?", (row["rowid"],))
            conn.executemany("INSERT INTO file_tags VALUES (?, ?)",
                             [(row["rowid"], tag) for tag in draft.tags])
            conn.execute("DELETE FROM files_fts WHERE rowid = ?", (row["rowid"],))
            conn.execute("INSERT INTO files_fts (rowid, text) VALUES (?, ?)",
                         (row["rowid"], search_text(draft)))
            conn.execute("DELETE FROM purge_queue WHERE storage_key = ?", (storage_key,))
            previous = row["storage_key"] or None
            if previous:
                conn.execute("INSERT OR REPLACE INTO purge_queue VALUES (?, ?)",
                             (previous, plus_seconds(now, retention_seconds)))
            self._insert_log(conn, workspace_id, entry)
            self._touch(conn, workspace_id, now)
            rec = self._get(conn, workspace_id, reservation.file_id)
            assert rec is not None
            return rec, previous

    def release_reservation(self, workspace_id: str, reservation: Reservation) -> None:
        if not reservation.is_new:
            return
        with self._write() as conn:
            conn.execute(
                "DELETE FROM files WHERE workspace_id = ? AND id = ? AND status = 'pending'"
                " AND version = 0",
                (workspace_id, reservation.file_id),
            )

    def _get(self, conn: sqlite3.Connection, workspace_id: str, file_id: str) -> FileRecord | None:
        row = conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE workspace_id = ? AND id = ?",
            (workspace_id, file_id),
        ).fetchone()
        return _record(row) if row else None

    def get_file(self, workspace_id: str, file_id: str) -> FileRecord | None:
        rows = self._read(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE workspace_id = ? AND id = ?",
            (workspace_id, file_id),
        )
        return _record(rows[0]) if rows else None

    def get_file_by_path(self, workspace_id: str, path: str) -> FileRecord | None:
        rows = self._read(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE workspace_id = ? AND path = ?"
            " AND deleted_at IS NULL",
            (workspace_id, path),
        )
        return _record(rows[0]) if rows else None

    def _file_filters(self, workspace_id: str, query: FileQuery) -> tuple[str, list[Any]]:
        where = ["workspace_id = ?"]
        params: list[Any] = [workspace_id]
        if not query.include_deleted:
            where.append("deleted_at IS NULL")
        if query.file_type:
            where.append("file_type = ?")
            params.append(query.file_type)
        if query.created_by:
            where.append("created_by = ?")
            params.append(query.created_by)
        if query.path_prefix and query.path_prefix != "/":
            lo, hi = _prefix_bounds(query.path_prefix)
            where.append("path >= ? AND path < ?")
            params += [lo, hi]
        if query.tags:
            marks = ",".join("?" * len(query.tags))
            where.append(
                f"(SELECT COUNT(*) FROM file_tags t WHERE t.file_rowid = files.rowid"
                f" AND t.tag IN ({marks})) = ?"
            )
            params += [*query.tags, len(query.tags)]
        return " AND ".join(where), params

    def list_files(self, workspace_id: str, query: FileQuery) -> Page[FileRecord]:
        where, params = self._file_filters(workspace_id, query)
        after = decode_cursor("files", query.cursor, 1)
        if after is not None:
            where += " AND number > ?"
            params.append(after[0])
        rows = self._read(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE {where} ORDER BY number LIMIT ?",
            [*params, query.limit + 1],
        )
        items = [_record(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor("files", [items[-1].number]) if more else None)

    def count_files(self, workspace_id: str, query: FileQuery) -> int:
        where, params = self._file_filters(workspace_id, query)
        return int(self._read(f"SELECT COUNT(*) FROM files WHERE {where}", params)[0][0])

    def search_candidates(
        self, workspace_id: str, qwords: list[str], file_type: str | None, cap: int
    ) -> list[FileRecord]:
        match = _fts_match(qwords)
        sql = (
            f"SELECT {_FILE_COLUMNS} FROM files WHERE rowid IN"
            " (SELECT rowid FROM files_fts WHERE files_fts MATCH ?)"
            " AND workspace_id = ? AND deleted_at IS NULL AND status = 'ready'"
        )
        params: list[Any] = [match, workspace_id]
        if file_type:
            sql += " AND file_type = ?"
            params.append(file_type)
        return [_record(r) for r in self._read(sql + " LIMIT ?", [*params, cap])]

    def delete_file(
        self, workspace_id: str, file_id: str, entry: LogEntry, retention_seconds: int
    ) -> FileRecord:
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, storage_key FROM files WHERE workspace_id = ? AND id = ?"
                " AND deleted_at IS NULL",
                (workspace_id, file_id),
            ).fetchone()
            if row is None:
                raise NotFound("file not found")
            conn.execute("UPDATE files SET deleted_at = ?, updated_at = ? WHERE rowid = ?",
                         (now, now, row["rowid"]))
            conn.execute("DELETE FROM files_fts WHERE rowid = ?", (row["rowid"],))
            if row["storage_key"]:
                conn.execute("INSERT OR REPLACE INTO purge_queue VALUES (?, ?)",
                             (row["storage_key"], plus_seconds(now, retention_seconds)))
            self._insert_log(conn, workspace_id, entry)
            self._touch(conn, workspace_id, now)
            rec = self._get(conn, workspace_id, file_id)
            assert rec is not None
            return rec

    # -- operation log ----------------------------------------------------------------
    def _insert_log(self, conn: sqlite3.Connection, workspace_id: str, entry: LogEntry) -> None:
        seq = conn.execute(
            "INSERT INTO logs (id, workspace_id, ts, operation_type, resource_type,"
            " resource_id, details, agent_id, task_id) VALUES (?,?,?,?,?,?,?,?,?) RETURNING seq",
            (entry.id, workspace_id, entry.timestamp, entry.operation_type,
             entry.resource_type, entry.resource_id, json.dumps(entry.details, ensure_ascii=False),
             entry.agent_id, entry.task_id),
        ).fetchone()[0]
        conn.execute("INSERT INTO logs_fts (rowid, text) VALUES (?, ?)",
                     (seq, log_search_text(entry)))

    def search_log_candidates(self, workspace_id: str, qwords: list[str],
                              cap: int) -> list[LogEntry]:
        rows = self._read(
            "SELECT * FROM logs WHERE seq IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)"
            " AND workspace_id = ? ORDER BY seq DESC LIMIT ?",
            (_fts_match(qwords), workspace_id, cap),
        )
        return [_log(r) for r in rows]

    # -- memory -----------------------------------------------------------------------
    def get_memory(self, workspace_id: str) -> MemoryDoc:
        rows = self._read("SELECT * FROM memory WHERE workspace_id = ?", (workspace_id,))
        if not rows:
            return MemoryDoc()
        row = rows[0]
        return MemoryDoc(row["content"], row["version"], row["updated_at"], row["updated_by"])

    def mutate_memory(
        self,
        workspace_id: str,
        mutate: Callable[[MemoryDoc], MemoryChange],
        updated_by: str | None,
        keep_versions: int,
    ) -> MemoryDoc:
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
            self._touch(conn, workspace_id, now)
            return doc

    def list_memory_versions(self, workspace_id: str) -> list[MemoryVersion]:
        rows = self._read("SELECT * FROM memory_versions WHERE workspace_id = ?"
                          " ORDER BY version DESC", (workspace_id,))
        return [_version(r) for r in rows]

    def get_memory_version(self, workspace_id: str, version: int) -> MemoryVersion | None:
        rows = self._read("SELECT * FROM memory_versions WHERE workspace_id = ? AND version = ?",
                          (workspace_id, version))
        return _version(rows[0]) if rows else None

    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        with self._write() as conn:
            self._insert_log(conn, workspace_id, entry)

    def list_logs(self, workspace_id: str, query: LogQuery) -> Page[LogEntry]:
        where = ["workspace_id = ?"]
        params: list[Any] = [workspace_id]
        for column in ("operation_type", "resource_type", "resource_id", "agent_id", "task_id"):
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
        items = [_log(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor("logs", [items[-1].timestamp, items[-1].id]) if more else None
        return Page(items, cursor)

    def count_logs(self, workspace_id: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM logs WHERE workspace_id = ?",
                              (workspace_id,))[0][0])

    # -- purge ------------------------------------------------------------------------
    def due_purges(self, now: str, limit: int) -> list[str]:
        rows = self._read("SELECT storage_key FROM purge_queue WHERE due_at <= ? LIMIT ?",
                          (now, limit))
        return [r[0] for r in rows]

    def schedule_purge(self, key: str, due: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO purge_queue VALUES (?, ?)", (key, due))

    def mark_purged(self, keys: list[str]) -> None:
        with self._write() as conn:
            conn.executemany("DELETE FROM purge_queue WHERE storage_key = ?",
                             [(k,) for k in keys])

    def stale_reservations(self, older_than: str, limit: int) -> list[tuple[str, Reservation]]:
        rows = self._read(
            "SELECT workspace_id, id, number FROM files WHERE status = 'pending'"
            " AND version = 0 AND updated_at < ? LIMIT ?",
            (older_than, limit),
        )
        return [(r["workspace_id"], Reservation(r["id"], r["number"], 1, True, None))
                for r in rows]

    # -- health -----------------------------------------------------------------------
    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "path": str(self.path)}
