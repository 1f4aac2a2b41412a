"""The SQLite schema and row mapping: ``SCHEMA``, ``record_of``, ``log_of``, ``version_of``.

One file holds every table: workspaces, file records (a partial unique index makes a live
virtual path unique), tags, FTS5 indexes for file and log search (``words``), the operation log, the
memory and its kept versions, ``docs``: small keyed JSON documents with a revision
counter (upload tickets, event locks and the blob purge queue are docs), the API keys
(``api_keys``, hashes only) with their rate-limit buckets (``api_key_buckets``), and the
event outbox (``events``: its ``seq`` is the commit order the feed pages by).
"""

from __future__ import annotations

import json
import sqlite3

from shared import fastjson
from shared.metadata.sqlite.words import TS_MAX_BACKFILL, migrate_search
from shared.models import FileRecord, FileVersion, LogEntry, MemoryVersion

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
    revision INTEGER NOT NULL DEFAULT 0,
    scan TEXT,
    scan_db INTEGER NOT NULL DEFAULT 0,
    scanned_at TEXT NOT NULL DEFAULT '',
    UNIQUE (workspace_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS files_live_path
    ON files (workspace_id, path) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS files_ws_number ON files (workspace_id, number);
CREATE INDEX IF NOT EXISTS files_pending ON files (status, updated_at);
CREATE TABLE IF NOT EXISTS file_versions (
    workspace_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    storage_key TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    superseded_at TEXT,
    purged INTEGER NOT NULL DEFAULT 0,
    scan TEXT,
    PRIMARY KEY (workspace_id, file_id, version)
);
CREATE INDEX IF NOT EXISTS file_versions_kept
    ON file_versions (workspace_id, purged, superseded_at);
CREATE TABLE IF NOT EXISTS file_tags (
    file_rowid INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (file_rowid, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_tags_tag ON file_tags (tag, file_rowid);
CREATE VIRTUAL TABLE IF NOT EXISTS files_search
    USING fts5(name, tags, description, scope, tokenize = "unicode61 remove_diacritics 0");
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
    task_id TEXT,
    session_id TEXT,
    -- the latest ts of every entry up to this seq: how far back a newest-first search of
    -- the word index must read (``sqlite.ranked``) when entries commit out of ts order
    ts_max TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS logs_ws_ts ON logs (workspace_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts);
CREATE VIRTUAL TABLE IF NOT EXISTS logs_search
    USING fts5(text, scope, tokenize = "unicode61 remove_diacritics 0");
CREATE TABLE IF NOT EXISTS log_words_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_seq INTEGER NOT NULL
);
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
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    agent_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_ws ON api_keys (workspace_id, created_at);
CREATE TABLE IF NOT EXISTS api_key_buckets (
    key_id TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    time TEXT NOT NULL,
    data TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_ws ON events (workspace_id, seq);
CREATE INDEX IF NOT EXISTS events_pending ON events (published, seq);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
"""

# Columns added after the first release: (table, column, type). ``CREATE TABLE IF NOT
# EXISTS`` leaves an older file's tables as they were, so these are added by ``migrate``.
ADDED_COLUMNS = (("logs", "session_id", "TEXT"),
                 ("files", "revision", "INTEGER NOT NULL DEFAULT 0"),
                 ("files", "scan", "TEXT"), ("files", "scan_db", "INTEGER NOT NULL DEFAULT 0"),
                 ("files", "scanned_at", "TEXT NOT NULL DEFAULT ''"),
                 ("file_versions", "scan", "TEXT"),
                 ("logs", "ts_max", "TEXT NOT NULL DEFAULT ''"),
                 ("workspaces", "seq", "INTEGER"))
# Run once, right after their column was added: values for rows written before it.
BACKFILL = {("files", "revision"): "UPDATE files SET revision = version",
            ("logs", "ts_max"): TS_MAX_BACKFILL,
            ("workspaces", "seq"): "UPDATE workspaces SET seq = rowid"}
AFTER_MIGRATION = """
CREATE UNIQUE INDEX IF NOT EXISTS workspaces_seq ON workspaces (seq);
CREATE INDEX IF NOT EXISTS logs_ws_session ON logs (workspace_id, session_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ws_agent ON logs (workspace_id, agent_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ws_task ON logs (workspace_id, task_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ws_resource ON logs (workspace_id, resource_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ws_op ON logs (workspace_id, operation_type, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS logs_ws_agent_op
    ON logs (workspace_id, agent_id, operation_type, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS files_ws_type
    ON files (workspace_id, file_type, number) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS files_rescan
    ON files (status, scan_db, scanned_at, workspace_id, id) WHERE deleted_at IS NULL;
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an older release up to ``SCHEMA`` (idempotent)."""
    conn.executescript(SCHEMA)
    for table, column, kind in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            try:
                with conn:  # the column and its backfill together, or neither
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    if (table, column) in BACKFILL:
                        conn.execute(BACKFILL[(table, column)])
            except sqlite3.OperationalError as exc:  # another process migrated first
                if "duplicate column" not in str(exc):
                    raise
    conn.executescript(AFTER_MIGRATION)
    # A workspace an older release created after the column was added has none: give it
    # one above every other (its files are indexed again by migrate_search, which an older
    # release's run always triggers).
    conn.execute("UPDATE workspaces SET seq = (SELECT COALESCE(MAX(seq), 0) FROM workspaces)"
                 " + rowid WHERE seq IS NULL")
    migrate_search(conn)
    # Created once, by the first release that indexes log words in batches: every entry an
    # older release wrote was indexed as it was written.
    conn.execute("INSERT OR IGNORE INTO log_words_state VALUES (1,"
                 " (SELECT COALESCE(MAX(seq), 0) FROM logs))")

FILE_COLUMNS = (
    "id, workspace_id, number, filename, path, session_id, description, tags, created_by, "
    "metadata, storage_key, storage_path, mime_type, file_type, file_extension, size_bytes, "
    "checksum, status, version, created_at, updated_at, deleted_at, revision, scan"
)


_FILE_COLUMN_COUNT = FILE_COLUMNS.count(",") + 1


def record_of(row: sqlite3.Row) -> FileRecord:
    """A row that ends with ``FILE_COLUMNS`` (``rowid`` may come first) as a
    ``FileRecord``. By position, not by name: a listing builds a record per row, and the 24
    lookups by name were a third of that."""
    (file_id, workspace_id, number, filename, path, session_id, description, tags,
     created_by, metadata, storage_key, storage_path, mime_type, file_type, file_extension,
     size_bytes, checksum, status, version, created_at, updated_at, deleted_at, revision,
     scan) = row[len(row) - _FILE_COLUMN_COUNT:]
    return FileRecord(
        id=file_id, workspace_id=workspace_id, number=number, filename=filename, path=path,
        session_id=session_id, description=description, tags=tuple(fastjson.loads(tags)),
        created_by=created_by, metadata=fastjson.loads(metadata), storage_key=storage_key,
        storage_path=storage_path, mime_type=mime_type, file_type=file_type,
        file_extension=file_extension, size_bytes=size_bytes, checksum=checksum,
        status=status, version=version, created_at=created_at, updated_at=updated_at,
        deleted_at=deleted_at, revision=revision,
        scan=fastjson.loads(scan) if scan else None,
    )


def file_version_of(row: sqlite3.Row) -> FileVersion:
    """A ``file_versions`` row as a ``FileVersion``."""
    return FileVersion(row["file_id"], row["version"], row["storage_key"], row["storage_path"],
                       row["size_bytes"], row["checksum"], row["mime_type"], row["created_at"],
                       row["created_by"], row["superseded_at"], bool(row["purged"]),
                       json.loads(row["scan"]) if row["scan"] else None)


def log_of(row: sqlite3.Row) -> LogEntry:
    """A ``logs`` row as a ``LogEntry``."""
    return LogEntry(id=row["id"], timestamp=row["ts"], operation_type=row["operation_type"],
                    resource_type=row["resource_type"], resource_id=row["resource_id"],
                    details=fastjson.loads(row["details"]), agent_id=row["agent_id"],
                    task_id=row["task_id"], session_id=row["session_id"])


def version_of(row: sqlite3.Row) -> MemoryVersion:
    """A ``memory_versions`` row as a ``MemoryVersion``."""
    return MemoryVersion(row["version"], row["content"], row["created_at"], row["updated_by"],
                         row["operation"])


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """``path >= lo AND path < hi`` selects a folder; prefixes end with '/', and '0' > '/'."""
    return prefix, prefix[:-1] + "0"
