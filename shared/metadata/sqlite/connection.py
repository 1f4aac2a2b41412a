"""``SqliteBase``: connections, transactions and the writes every role shares.

Several server processes may share one storage directory, so every write runs in a
``BEGIN IMMEDIATE`` transaction (SQLite's write lock, held across processes); readers use
WAL snapshots. Each thread keeps its own connection. The role mixins (``files``, ``logs``,
``memory``, ``docs``) build on the helpers here, so a change and its log entry (and its
purge-queue entry, and its event in the outbox) always commit in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.errors import BackendUnavailable
from shared.events import Event
from shared.metadata.base import PURGE_KIND
from shared.metadata.ranking import log_search_text
from shared.metadata.sqlite.checkpoint import BACKSTOP_PAGES, Checkpointer
from shared.metadata.sqlite.schema import DB_NAME, FILE_COLUMNS, log_of, migrate, record_of
from shared.metadata.sqlite.words import log_row
from shared.models import FileRecord, LogEntry

OPEN_RETRY_SECONDS = 10.0
MMAP_BYTES = 1 << 30  # how much of the database file SQLite maps (see ``_conn``)
LOG_WORDS_BATCH = 64  # log entries whose words are indexed together (see ``_index_logs``)


class SqliteBase:
    """One SQLite file; the helpers the role mixins share."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._checkpointer = Checkpointer.of(self.path)
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                migrate(self._conn())
                return
            except sqlite3.OperationalError as exc:
                # Switching a new file to WAL answers "locked" at once, without the busy
                # handler, while another process (a second worker) does the same.
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise BackendUnavailable(f"cannot open metadata database: {exc}") from exc
                time.sleep(0.05)

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
            # Checkpoints run in the background (``Checkpointer``); this is the backstop.
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            # Reads through the OS page cache, shared by every connection and process, not
            # through each connection's 2 MB cache: at 50,000 files a search's row lookups
            # went from 4.6 ms to 1.5 ms (bench/RESULTS.md). Address space, not memory.
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); rolled back on any error."""
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
        self._checkpointer.committed()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in it sees the same committed state (WAL)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("metadata store unavailable") from exc
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("metadata store unavailable") from exc

    # -- writes shared by the roles (inside a transaction) ---------------------------------
    def _touch(self, conn: sqlite3.Connection, workspace_id: str, now: str) -> None:
        conn.execute("UPDATE workspaces SET updated_at = ? WHERE id = ?", (now, workspace_id))

    def _get(self, conn: sqlite3.Connection, workspace_id: str,
             file_id: str) -> FileRecord | None:
        row = conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ? AND id = ?",
                           (workspace_id, file_id)).fetchone()
        return record_of(row) if row else None

    def _insert_log(self, conn: sqlite3.Connection, workspace_id: str, entry: LogEntry) -> None:
        # ``lastrowid``, not ``RETURNING seq``: RETURNING cost this hot path 0.1 ms a write.
        seq = conn.execute(
            "INSERT INTO logs (id, workspace_id, ts, operation_type, resource_type,"
            " resource_id, details, agent_id, task_id, session_id, ts_max)"
            " VALUES (?,?,?,?,?,?,?,?,?,?, MAX(?, COALESCE((SELECT MAX(ts_max, ts) FROM logs"
            " ORDER BY seq DESC LIMIT 1), '')))",
            (entry.id, workspace_id, entry.timestamp, entry.operation_type,
             entry.resource_type, entry.resource_id,
             json.dumps(entry.details, ensure_ascii=False), entry.agent_id, entry.task_id,
             entry.session_id, entry.timestamp),
        ).lastrowid
        assert seq is not None
        if seq % LOG_WORDS_BATCH == 0:
            self._index_logs(conn)

    @staticmethod
    def _index_logs(conn: sqlite3.Connection) -> None:
        """Index the words of every entry written since the last batch (in the caller's
        write transaction). Why batches: FTS5 writes a segment per transaction, which made a
        log entry's words cost as much as the rest of its write transaction together."""
        done = conn.execute("SELECT indexed_seq FROM log_words_state").fetchone()[0]
        rows = conn.execute("SELECT logs.*, w.seq AS ws FROM logs LEFT JOIN workspaces w"
                            " ON w.id = logs.workspace_id WHERE logs.seq > ?"
                            " ORDER BY logs.seq",
                            (done,)).fetchall()
        if rows:
            conn.executemany("INSERT INTO logs_search (rowid, text, scope) VALUES (?, ?, ?)",
                             [log_row(row["ws"], row["seq"], log_search_text(log_of(row)),
                                      row["session_id"]) for row in rows
                              if row["ws"] is not None])
            conn.execute("UPDATE log_words_state SET indexed_seq = ?", (rows[-1]["seq"],))

    def _log_words_current(self) -> None:
        """Before a query of ``logs_search``: index the entries of the unfinished batch (at most
        ``LOG_WORDS_BATCH`` - 1), so a search sees every entry written before it."""
        done, last = self._read("SELECT (SELECT indexed_seq FROM log_words_state),"
                                " (SELECT MAX(seq) FROM logs)")[0]
        if last is not None and last > done:
            with self._write() as conn:
                self._index_logs(conn)

    def _insert_event(self, conn: sqlite3.Connection, event: Event) -> None:
        """Write ``event`` to the outbox (once: its id is the change's, see ``events``)."""
        conn.execute("INSERT OR IGNORE INTO events (id, workspace_id, type, subject, time, data)"
                     " VALUES (?,?,?,?,?,?)", (event.id, event.workspace_id, event.type,
                                               event.subject, event.time,
                                               json.dumps(event.data)))

    def _put_doc(self, conn: sqlite3.Connection, kind: str, key: str, data: dict[str, Any],
                 scope: str, due_at: str) -> None:
        conn.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (kind, key) DO UPDATE SET"
            " data = excluded.data, scope = excluded.scope, due_at = excluded.due_at,"
            " rev = rev + 1", (kind, key, json.dumps(data), scope, due_at))

    def _schedule_purge(self, conn: sqlite3.Connection, key: str, due: str,
                        data: dict[str, Any] | None = None) -> None:
        self._put_doc(conn, PURGE_KIND, key, data or {}, "", due)

    def _drop_purge(self, conn: sqlite3.Connection, key: str) -> None:
        conn.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (PURGE_KIND, key))
