"""``SqliteFiles``: the file-record role on SQLite (reserve, finalize, queries, delete).

Invariants live in the schema itself: the partial unique index makes a live virtual path
unique, and file numbers come from a per-workspace counter bumped inside the transaction that
inserts the record. Finalize and delete write the record, its log entry, its purge-queue
entry and its event (``ready``, ``deleted``, ``infected``) in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shared import text_index
from shared.cursor import decode_cursor, encode_cursor
from shared.errors import Conflict, NotFound
from shared.events import file_event
from shared.metadata.base import (
    check_expected,
    format_file_id,
    stamped,
    version_purge,
)
from shared.metadata.folders import as_moved
from shared.metadata.scans import scan_db, scan_time
from shared.metadata.sqlite import ranked
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import (
    FILE_COLUMNS,
    file_version_of,
    prefix_bounds,
    record_of,
)
from shared.metadata.sqlite.words import (
    FILE_WORDS,
    ROW_MASK,
    file_score,
    fts_match,
    index_file,
    session_of_folder,
    session_token,
    span,
    unindex_file,
    workspace_key,
)
from shared.mime import extension_of
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    FileVersion,
    Finalization,
    Hits,
    LogEntry,
    Page,
    Reservation,
    Usage,
)
from shared.timeutil import plus_seconds, utcnow

# A search's rows: the word index first, then each match's record (``words``: rowid layout).
_SEARCH_JOIN = f"files_search w CROSS JOIN files ON files.rowid = (w.rowid & {ROW_MASK})"
# The trash: deleted records whose last version still has its bytes.
TRASH = ("deleted_at IS NOT NULL AND storage_key != '' AND EXISTS (SELECT 1 FROM file_versions v"
         " WHERE v.workspace_id = files.workspace_id AND v.file_id = files.id"
         " AND v.version = files.version AND v.purged = 0)")


class SqliteFiles(SqliteBase):
    """File records, reservations and their queries."""

    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        with self._write() as conn:
            live = conn.execute(
                "SELECT rowid, id, number, status, version, reserved_version, storage_key"
                " FROM files WHERE workspace_id = ? AND path = ? AND deleted_at IS NULL",
                (workspace_id, draft.path),
            ).fetchone()
            if live is not None:
                return self._reserve_version(conn, live, draft, overwrite)
            conn.execute("UPDATE workspaces SET file_seq = file_seq + 1 WHERE id = ?",
                         (workspace_id,))
            number = conn.execute("SELECT file_seq FROM workspaces WHERE id = ?",
                                  (workspace_id,)).fetchone()[0]
            file_id, now = format_file_id(number), utcnow()
            conn.execute(
                "INSERT INTO files (id, workspace_id, number, filename, path, session_id,"
                " description, tags, created_by, metadata, status, version, reserved_version,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,'pending',0,1,?,?)",
                (file_id, workspace_id, number, draft.filename, draft.path, draft.session_id,
                 draft.description, json.dumps(list(draft.tags)), draft.created_by,
                 json.dumps(draft.metadata), now, now),
            )
            return Reservation(file_id, number, 1, True, None)

    @staticmethod
    def _reserve_version(conn: sqlite3.Connection, live: sqlite3.Row, draft: FileDraft,
                         overwrite: bool) -> Reservation:
        if live["status"] == "pending" and live["version"] == 0:
            raise Conflict("an upload to this path is already in progress", path=draft.path)
        if not overwrite:
            raise Conflict("a file already exists at this path", path=draft.path,
                           file_id=live["id"])
        version = max(live["reserved_version"], live["version"]) + 1
        conn.execute("UPDATE files SET reserved_version = ? WHERE rowid = ?",
                     (version, live["rowid"]))
        return Reservation(live["id"], live["number"], version, False,
                           live["storage_key"] or None)

    def finalize_file(self, workspace_id: str, done: Finalization, entry: LogEntry,
                      retention_seconds: int) -> tuple[FileRecord, str | None]:
        file_id = done.reservation.file_id
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, version, storage_key, deleted_at, path, filename FROM files"
                " WHERE workspace_id = ? AND id = ?", (workspace_id, file_id),
            ).fetchone()
            if row is None or row["deleted_at"] is not None:
                raise Conflict("the file was deleted while it was being uploaded")
            check_expected(done, row["version"])
            done = as_moved(done, row["path"], row["filename"])
            version = row["version"] + 1  # commit order: every finalize becomes live
            self._write_version(conn, row["rowid"], done, version, now)
            self._add_version(conn, workspace_id, done, version, now)
            self._drop_purge(conn, done.storage_key)
            previous = row["storage_key"] or None
            if previous:
                self._supersede(conn, workspace_id, file_id, row["version"], previous,
                                now, retention_seconds)
            self._touch(conn, workspace_id, now)
            self._insert_log(conn, workspace_id, stamped(entry, version))
            record = self._get(conn, workspace_id, file_id)
            assert record is not None
            self._insert_event(conn, file_event("ready", record, now))
            return record, previous

    @staticmethod
    def _add_version(conn: sqlite3.Connection, workspace_id: str, done: Finalization,
                     version: int, now: str) -> None:
        conn.execute(
            "INSERT INTO file_versions (workspace_id, file_id, version, storage_key,"
            " storage_path, size_bytes, checksum, mime_type, created_at, created_by, scan)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (workspace_id, done.reservation.file_id, version, done.storage_key,
             done.storage_path, done.facts.size_bytes, done.facts.checksum,
             done.facts.mime_type, now, done.draft.created_by,
             json.dumps(done.scan) if done.scan else None))

    def _supersede(self, conn: sqlite3.Connection, workspace_id: str, file_id: str,
                   version: int, storage_key: str, now: str, retention_seconds: int) -> None:
        """``version`` stops being live: kept until retention ends, then its blob purged."""
        conn.execute("UPDATE file_versions SET superseded_at = ? WHERE workspace_id = ?"
                     " AND file_id = ? AND version = ?", (now, workspace_id, file_id, version))
        self._schedule_purge(conn, storage_key, plus_seconds(now, retention_seconds),
                             version_purge(workspace_id, file_id, version))

    @staticmethod
    def _write_version(conn: sqlite3.Connection, rowid: int, done: Finalization,
                       version: int, now: str) -> None:
        """The record becomes ``ready`` at ``version``, re-indexed (tags, search)."""
        draft, facts = done.draft, done.facts
        conn.execute(
            "UPDATE files SET filename = ?, description = ?, tags = ?, created_by = ?,"
            " metadata = ?, storage_key = ?, storage_path = ?, mime_type = ?, file_type = ?,"
            " file_extension = ?, size_bytes = ?, checksum = ?, status = 'ready',"
            " version = ?, updated_at = ?, revision = revision + 1, scan = ?, scan_db = ?,"
            " scanned_at = ? WHERE rowid = ?",
            (draft.filename, draft.description, json.dumps(list(draft.tags)),
             draft.created_by, json.dumps(draft.metadata), done.storage_key, done.storage_path,
             facts.mime_type, facts.file_type, extension_of(draft.filename), facts.size_bytes,
             facts.checksum, version, now, json.dumps(done.scan) if done.scan else None,
             scan_db(done.scan), scan_time(done.scan), rowid),
        )
        conn.execute("DELETE FROM file_tags WHERE file_rowid = ?", (rowid,))
        conn.executemany("INSERT INTO file_tags VALUES (?, ?)", [(rowid, t) for t in draft.tags])
        index_file(conn, rowid, draft)

    def release_reservation(self, workspace_id: str, reservation: Reservation) -> None:
        if not reservation.is_new:
            return
        with self._write() as conn:
            conn.execute(
                "DELETE FROM files WHERE workspace_id = ? AND id = ? AND status = 'pending'"
                " AND version = 0", (workspace_id, reservation.file_id),
            )

    def get_file(self, workspace_id: str, file_id: str) -> FileRecord | None:
        rows = self._read(
            f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ? AND id = ?",
            (workspace_id, file_id),
        )
        return record_of(rows[0]) if rows else None

    def get_file_by_path(self, workspace_id: str, path: str) -> FileRecord | None:
        rows = self._read(
            f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ? AND path = ?"
            " AND deleted_at IS NULL", (workspace_id, path),
        )
        return record_of(rows[0]) if rows else None

    @staticmethod
    def _file_filters(workspace_id: str, query: FileQuery) -> tuple[str, list[Any]]:
        where = ["workspace_id = ?", TRASH if query.deleted else "deleted_at IS NULL"]
        params: list[Any] = [workspace_id]
        if query.file_type:
            where.append("file_type = ?")
            params.append(query.file_type)
        if query.created_by:
            where.append("created_by = ?")
            params.append(query.created_by)
        if query.path_prefix and query.path_prefix != "/":
            lo, hi = prefix_bounds(query.path_prefix)
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
            f"SELECT {FILE_COLUMNS} FROM files WHERE {where} ORDER BY number LIMIT ?",
            [*params, query.limit + 1],
        )
        items = [record_of(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor("files", [items[-1].number]) if more else None)

    def count_files(self, workspace_id: str, query: FileQuery) -> int:
        where, params = self._file_filters(workspace_id, query)
        return int(self._read(f"SELECT COUNT(*) FROM files WHERE {where}", params)[0][0])

    def count_search_files(self, workspace_id: str, query: str, file_type: str | None,
                           limit: int, path_prefix: str | None = None) -> Hits[FileRecord]:
        """Every match counted (never a lower bound), only the returned page read as
        records: by score level from the word index (``ranked``) when many match, else every
        match ranked by ``words.file_score`` in SQL."""
        qwords = text_index.query_words(query)
        if not qwords:
            return Hits([], 0, False)
        with self._snapshot() as conn:
            ws = workspace_key(conn, workspace_id)
            if ws is None:
                return Hits([], 0, False)
            total, folder = -1, path_prefix if path_prefix and path_prefix != "/" else None
            session = session_of_folder(folder) if folder else None
            scope = session_token(session) if session else None
            if not file_type and (not folder or scope):  # what the index holds
                total = ranked.count(conn, "files_search", qwords, ws, scope)
            if ranked.use_levels(qwords, total):
                page = ranked.file_page(conn, qwords, ws, limit, scope)
            else:
                page, total = self._files_ranked_in_sql(conn, ws, qwords, file_type,
                                                        path_prefix, limit)
            marks = ",".join("?" * len(page))
            rows = {row["rowid"]: record_of(row) for row in conn.execute(
                f"SELECT rowid, {FILE_COLUMNS} FROM files WHERE rowid IN ({marks})"
                " AND +workspace_id = ?", [*page, workspace_id])} if page else {}
        return Hits([rows[r] for r in page if r in rows], total, False)  # (ws: belt and braces)

    def _files_ranked_in_sql(self, conn: sqlite3.Connection, ws: int, qwords: list[str],
                       file_type: str | None, path_prefix: str | None,
                       limit: int) -> tuple[list[int], int]:
        """Every match scored by ``words.file_score``: the page's rowids and the total."""
        where, params = self._search_filters(ws, qwords, file_type, path_prefix)
        score, score_params = file_score(qwords, "w.rowid", ws)
        ranked_rows = conn.execute(
            "SELECT r, total FROM (SELECT files.rowid AS r, files.number AS n,"
            f" {score} AS s, COUNT(*) OVER () AS total FROM {_SEARCH_JOIN} WHERE {where})"
            " ORDER BY s DESC, n LIMIT ?", [*score_params, *params, limit]).fetchall()
        return [row["r"] for row in ranked_rows], ranked_rows[0]["total"] if ranked_rows else 0

    @staticmethod
    def _search_filters(ws: int, qwords: list[str], file_type: str | None,
                        path_prefix: str | None) -> tuple[str, list[Any]]:
        # CROSS JOIN keeps FTS5 first: SQLite would otherwise walk every ready record of the
        # workspace by its status index and test each against the word list. Only live,
        # ready records are indexed; the workspace is the index's rowid range.
        where = ["w.files_search MATCH ?", "w.rowid BETWEEN ? AND ?"]
        params: list[Any] = [fts_match(qwords, FILE_WORDS), *span(ws)]
        if file_type:
            where.append("files.file_type = ?")
            params.append(file_type)
        if path_prefix and path_prefix != "/":
            where.append("files.path >= ? AND files.path < ?")
            params += prefix_bounds(path_prefix)
        return " AND ".join(where), params

    def delete_file(self, workspace_id: str, file_id: str, entry: LogEntry,
                    retention_seconds: int) -> FileRecord:
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, storage_key, version FROM files WHERE workspace_id = ?"
                " AND id = ? AND deleted_at IS NULL", (workspace_id, file_id),
            ).fetchone()
            if row is None:
                raise NotFound("file not found")
            conn.execute("UPDATE files SET deleted_at = ?, updated_at = ?,"
                         " revision = revision + 1 WHERE rowid = ?", (now, now, row["rowid"]))
            unindex_file(conn, row["rowid"])
            if row["storage_key"]:
                self._supersede(conn, workspace_id, file_id, row["version"],
                                row["storage_key"], now, retention_seconds)
            self._insert_log(conn, workspace_id, entry)
            self._touch(conn, workspace_id, now)
            record = self._get(conn, workspace_id, file_id)
            assert record is not None
            self._insert_event(conn, file_event("deleted", record, now))
            return record

    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry, checksum: str | None = None) -> FileRecord | None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT rowid, metadata FROM files WHERE workspace_id = ? AND id = ?"
                " AND status = 'pending' AND version = 0 AND deleted_at IS NULL",
                (workspace_id, file_id)).fetchone()
            if row is None:
                return None
            metadata, now = {**json.loads(row["metadata"]), "scan": details}, utcnow()
            conn.execute("UPDATE files SET status = 'infected', metadata = ?, updated_at = ?,"
                         " revision = revision + 1, scan = ?, scan_db = ?, scanned_at = ?"
                         " WHERE rowid = ?", (json.dumps(metadata), now, json.dumps(details),
                                              scan_db(details), scan_time(details),
                                              row["rowid"]))
            self._insert_log(conn, workspace_id, entry)
            record = self._get(conn, workspace_id, file_id)
            assert record is not None
            self._insert_event(conn, file_event("infected", record, now, 1, checksum))
            return record

    def stale_reservations(self, older_than: str, limit: int) -> list[tuple[str, Reservation]]:
        rows = self._read(
            "SELECT workspace_id, id, number FROM files WHERE status = 'pending'"
            " AND version = 0 AND updated_at < ? LIMIT ?", (older_than, limit),
        )
        return [(r["workspace_id"], Reservation(r["id"], r["number"], 1, True, None))
                for r in rows]

    def list_file_versions(self, workspace_id: str, file_id: str) -> list[FileVersion]:
        rows = self._read("SELECT * FROM file_versions WHERE workspace_id = ? AND file_id = ?"
                          " ORDER BY version DESC", (workspace_id, file_id))
        return [file_version_of(r) for r in rows]

    def get_file_version(self, workspace_id: str, file_id: str,
                         version: int) -> FileVersion | None:
        rows = self._read("SELECT * FROM file_versions WHERE workspace_id = ? AND file_id = ?"
                          " AND version = ?", (workspace_id, file_id, version))
        return file_version_of(rows[0]) if rows else None

    def mark_version_purged(self, workspace_id: str, file_id: str, version: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE file_versions SET purged = 1 WHERE workspace_id = ?"
                         " AND file_id = ? AND version = ?", (workspace_id, file_id, version))

    def usage(self, workspace_id: str) -> Usage:
        live = self._read("SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM files"
                          " WHERE workspace_id = ? AND deleted_at IS NULL", (workspace_id,))[0]
        kept = self._read("SELECT COALESCE(SUM(size_bytes), 0) FROM file_versions"
                          " WHERE workspace_id = ? AND purged = 0"
                          " AND superseded_at IS NOT NULL", (workspace_id,))[0]
        return Usage(int(live[0]), int(kept[0]), int(live[1]))
