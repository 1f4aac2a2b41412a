"""``FolderRole``: the metadata primitives that move files, and folder listing on them.

- ``move_file``: one file gets a new path (and name) in one atomic change with its log entry;
  the id, the versions and the bytes stay as they are.
- ``start_folder_move`` / ``resume_folder_move``: every live file under a prefix moves. SQLite
  does it in one transaction. Firestore cannot (500 writes per commit), so it first holds
  every target path (a conflict then stops it before anything moved), then moves files in
  batches, each file atomically, recording its progress in the move's document so any
  caller (a repeated POST, the sweep) can resume it.
- ``list_folder``: a folder's immediate children in name order, read from one snapshot.
  ``walk_folder`` is the one algorithm: it walks live paths in order and, at the first path
  inside a sub-folder, counts that folder and jumps past it, so a page costs a few reads
  per child however many files the sub-folders hold.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared.errors import Conflict
from shared.folderpaths import FolderMove, FolderPage, FolderSummary, folder_end
from shared.models import FileRecord, Finalization, LogEntry

MAX_REPORTED_CONFLICTS = 20
FIRST_CHUNK = 10  # rows read before the first sub-folder may turn up (then doubled)

# ``make_entry(before, after)``: the log entry of one file's move (the service builds it).
EntryMaker = Callable[[FileRecord, FileRecord], LogEntry]
# ``rows(lo, inclusive, hi, n)``: up to ``n`` live records with lo <(=) path < hi, by path.
Rows = Callable[[str, bool, str, int], list[FileRecord]]
# ``totals(prefix)``: live files under ``prefix`` and their bytes.
Totals = Callable[[str], tuple[int, int]]


def path_taken(path: str, holder: FileRecord | None, claimed_by: str | None = None) -> Conflict:
    """The 409 for a target path that another live record (or a running move) holds."""
    if claimed_by:
        return Conflict("a folder move to this path is in progress", path=path,
                        operation_id=claimed_by)
    if holder is not None and holder.status == "pending" and holder.version == 0:
        return Conflict("an upload to this path is already in progress", path=path)
    return Conflict("a file already exists at this path", path=path,
                    file_id=holder.id if holder else None)


def check_movable(record: FileRecord, expected_version: int | None) -> None:
    """409 unless the file is ready and (when given) at the expected version."""
    if record.status != "ready":
        raise Conflict("file is not ready", status=record.status)
    if expected_version is not None and expected_version != record.version:
        raise Conflict("the file changed since the expected version",
                       current_version=record.version, expected_version=expected_version)


def pending_under(records: list[FileRecord]) -> Conflict | None:
    """The 409 when an upload into the folder is still in flight (its record would be left
    behind, or moved under the uploader's feet)."""
    pending = [r for r in records if r.status == "pending"]
    if not pending:
        return None
    return Conflict("an upload into this folder is in progress", conflicts=[
        {"path": r.path, "file_id": r.id, "reason": "upload in progress"}
        for r in pending[:MAX_REPORTED_CONFLICTS]])


def taken_targets(taken: list[dict[str, Any]]) -> Conflict:
    """The 409 for a folder move whose target paths are held by other live files."""
    return Conflict("files already exist at some target paths; nothing was moved",
                    conflicts=taken[:MAX_REPORTED_CONFLICTS])


def walk_folder(prefix: str, after: tuple[str, bool] | None, limit: int, rows: Rows,
                totals: Totals) -> FolderPage:
    """One page of ``prefix``'s immediate children, in path order (see the module doc).

    ``after`` is the last child of the previous page: its name and whether it is a folder.
    """
    hi = folder_end(prefix)
    lo, inclusive = prefix, True
    if after is not None:
        name, is_folder = after
        lo, inclusive = (folder_end(prefix + name + "/"), True) if is_folder else (
            prefix + name, False)
    children: list[tuple[str, FileRecord | None]] = []  # (path, record; None: a folder)
    chunk = FIRST_CHUNK
    while len(children) <= limit:
        want = min(chunk, limit + 1 - len(children))
        batch = rows(lo, inclusive, hi, want)
        found_folder = False
        for record in batch:
            cut = record.path.find("/", len(prefix))
            if cut == -1:
                children.append((record.path, record))
                lo, inclusive = record.path, False
                continue
            sub = record.path[: cut + 1]
            children.append((sub, None))
            lo, inclusive, found_folder = folder_end(sub), True, True
            break
        if not found_folder and len(batch) < want:
            break  # nothing more in this folder
        chunk = FIRST_CHUNK if found_folder else chunk * 2
    page, more = children[:limit], len(children) > limit
    folders = [FolderSummary(path, *totals(path)) for path, rec in page if rec is None]
    files = [rec for _, rec in page if rec is not None]
    next_after = None
    if more and page:
        last, rec = page[-1]
        next_after = (last[len(prefix):].rstrip("/"), rec is None)
    return FolderPage(folders, files, next_after)


class FolderRole(abc.ABC):
    """Moving files and folders; listing a folder's children."""

    @abc.abstractmethod
    def move_file(self, workspace_id: str, file_id: str, path: str, filename: str,
                  expected_version: int | None, make_entry: EntryMaker) -> FileRecord:
        """Give a ready file a new path and filename, with its log entry, atomically.

        Keeps the id, the versions and the bytes; bumps ``updated_at``. A path held by
        another live record (a pending upload included) or claimed by a running folder
        move is a 409 (``path_taken``); so are a file that is not ready and a stale
        ``expected_version`` (``check_movable``). NotFound for a deleted or unknown file.
        The same path and filename change nothing and log nothing.
        """

    @abc.abstractmethod
    def list_folder(self, workspace_id: str, prefix: str, after: tuple[str, bool] | None,
                    limit: int) -> FolderPage:
        """One page of the folder's immediate children, read from one snapshot."""

    @abc.abstractmethod
    def start_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                          budget_seconds: float) -> FolderMove:
        """Run a new folder move until it is done, failed or ``budget_seconds`` are spent
        (at least one step is always taken). The move is stored (``FOLDER_MOVE_KIND``).

        Raises NotFound when no live file lies under the source, Conflict (nothing moved)
        when a target path is taken or an upload into the source is in flight, and
        Conflict when another folder move runs in the workspace, unless it is this same
        move (same source and target): that one is resumed and returned instead.
        """

    @abc.abstractmethod
    def resume_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                           budget_seconds: float) -> FolderMove:
        """Continue a stored move (idempotent: work already done is not done again)."""



def as_moved(done: Finalization, path: str, filename: str) -> Finalization:
    """The finalize of an overwrite whose file moved (or was renamed) while the bytes were
    in flight: the upload replaces the bytes, the move decided the place and the name."""
    if done.draft.path == path:
        return done
    return replace(done, draft=replace(done.draft, path=path, filename=filename))
