"""``SqliteFolders``: moving files and folders, and listing a folder, on SQLite.

SQLite makes both moves single transactions: readers (WAL snapshots) see a folder before
or after its move, never half of it. The partial unique index on live paths stays the
arbiter of a taken path; the checks here come first only to answer a precise 409. A
folder listing reads every query of its page in one read transaction (one snapshot).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from shared.errors import NotFound
from shared.folderpaths import (
    FOLDER_MOVE_KIND,
    FolderMove,
    FolderPage,
    folder_end,
    move_due_at,
    target_of,
)
from shared.metadata.folders import (
    EntryMaker,
    check_movable,
    path_taken,
    pending_under,
    taken_targets,
    walk_folder,
)
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import FILE_COLUMNS, record_of
from shared.metadata.sqlite.words import index_file, session_of_path
from shared.mime import extension_of
from shared.models import FileRecord
from shared.timeutil import utcnow

IN_CHUNK = 500  # host parameters per IN (...) list, well under SQLite's limit


class SqliteFolders(SqliteBase):
    """File and folder moves, and folder listings."""

    def move_file(self, workspace_id: str, file_id: str, path: str, filename: str,
                  expected_version: int | None, make_entry: EntryMaker,
                  if_revision: int | None = None) -> FileRecord:
        with self._write() as conn:
            before = self._get(conn, workspace_id, file_id)
            if before is None or before.is_deleted:
                raise NotFound("file not found")
            check_movable(before, expected_version, if_revision)
            if (path, filename) == (before.path, before.filename):
                return before
            if path != before.path:
                holder = self._live_at(conn, workspace_id, path)
                if holder is not None:
                    raise path_taken(path, holder)
            now = utcnow()
            rowid = conn.execute(
                "UPDATE files SET path = ?, filename = ?, file_extension = ?, updated_at = ?,"
                " revision = revision + 1 WHERE workspace_id = ? AND id = ? RETURNING rowid",
                (path, filename, extension_of(filename), now, workspace_id, file_id),
            ).fetchone()[0]
            after = self._get(conn, workspace_id, file_id)
            assert after is not None
            if filename != before.filename or _scope_changes(before.path, path):
                index_file(conn, rowid, after)  # its name, or its session, is searchable
            self._insert_log(conn, workspace_id, make_entry(before, after))
            self._touch(conn, workspace_id, now)
            return after

    @staticmethod
    def _live_at(conn: sqlite3.Connection, workspace_id: str, path: str) -> FileRecord | None:
        row = conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ?"
                           " AND path = ? AND deleted_at IS NULL", (workspace_id, path)).fetchone()
        return record_of(row) if row else None

    # -- folder listing ---------------------------------------------------------------------
    def list_folder(self, workspace_id: str, prefix: str, after: tuple[str, bool] | None,
                    limit: int) -> FolderPage:
        with self._snapshot() as conn:
            def paths(lo: str, inclusive: bool, hi: str, n: int) -> list[tuple[str, str]]:
                found = conn.execute(
                    "SELECT path, id FROM files WHERE workspace_id = ? AND deleted_at IS NULL"
                    f" AND path {'>=' if inclusive else '>'} ? AND path < ? ORDER BY path"
                    " LIMIT ?", (workspace_id, lo, hi, n))
                return [(row[0], row[1]) for row in found]

            def records(ids: list[str]) -> list[FileRecord]:
                marks = ",".join("?" * len(ids))
                found = {r.id: r for r in (record_of(row) for row in conn.execute(
                    f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ? AND id IN"
                    f" ({marks})", (workspace_id, *ids)))} if ids else {}
                return [found[i] for i in ids]

            def totals(folders: list[str]) -> list[tuple[int, int]]:
                return [tuple(conn.execute(  # type: ignore[misc]
                    "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM files"
                    " WHERE workspace_id = ? AND deleted_at IS NULL AND path >= ? AND path < ?",
                    (workspace_id, folder, folder_end(folder))).fetchone()) for folder in folders]

            return walk_folder(prefix, after, limit, paths, records, totals)

    # -- folder moves -----------------------------------------------------------------------
    def start_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                          budget_seconds: float) -> FolderMove:
        ws = move.workspace_id
        with self._write() as conn:
            records = [record_of(r) for r in conn.execute(
                f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ? AND deleted_at IS NULL"
                " AND path >= ? AND path < ? ORDER BY number",
                (ws, move.source, folder_end(move.source)))]
            if not records:
                raise NotFound("no file lies under this folder", path=move.source)
            pending = pending_under(records)
            if pending is not None:
                raise pending
            plan = [(r, target_of(r.path, move.source, move.target)) for r in records]
            taken = self._taken(conn, ws, [target for _, target in plan])
            if taken:
                raise taken_targets(taken)
            now = utcnow()
            for before, target in plan:
                rowid = conn.execute(
                    "UPDATE files SET path = ?, updated_at = ?, revision = revision + 1"
                    " WHERE workspace_id = ? AND id = ? RETURNING rowid",
                    (target, now, ws, before.id)).fetchone()[0]
                after = replace(before, path=target, updated_at=now, revision=before.revision + 1)
                if _scope_changes(before.path, target):
                    index_file(conn, rowid, after)
                self._insert_log(conn, ws, make_entry(before, after))
            self._touch(conn, ws, now)
            done = replace(move, status="done", files_total=len(plan), files_moved=len(plan),
                           updated_at=now)
            self._put_doc(conn, FOLDER_MOVE_KIND, move.id, done.to_doc(), ws,
                          move_due_at(done))
            return done

    @staticmethod
    def _taken(conn: sqlite3.Connection, workspace_id: str,
               targets: list[str]) -> list[dict[str, Any]]:
        """Target paths that live records hold (a pending upload's included)."""
        taken: list[dict[str, Any]] = []
        for start in range(0, len(targets), IN_CHUNK):
            chunk = targets[start:start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                    f"SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = ?"
                    f" AND deleted_at IS NULL AND path IN ({marks}) ORDER BY path",
                    (workspace_id, *chunk)):
                holder = record_of(row)
                pending = holder.status == "pending" and holder.version == 0
                taken.append({"path": holder.path, "file_id": holder.id,
                              "reason": "upload in progress" if pending else "taken"})
        return taken

    def resume_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                           budget_seconds: float) -> FolderMove:
        return move  # one transaction: a stored move is already done


def _scope_changes(before: str, after: str) -> bool:
    """Whether a move takes a file into, out of or between sessions' folders (its search
    index entry names its session)."""
    return session_of_path(before) != session_of_path(after)
