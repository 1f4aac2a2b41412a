"""``FolderRole``: the metadata primitives that move files, and folder listing on them.

- ``move_file``: one file gets a new path (and name) in one atomic change with its log entry;
  the id, the versions and the bytes stay as they are.
- ``start_folder_move`` / ``resume_folder_move``: every live file under a prefix moves. SQLite
  does it in one transaction. Firestore cannot (500 writes per commit), so it first holds
  every target path (a conflict then stops it before anything moved), then moves files in
  batches, each file atomically, recording its progress in the move's document so any
  caller (a repeated POST, the sweep) can resume it.
- ``list_folder``: a folder's immediate children in name order, read from one snapshot.
  ``walk_folder`` is the one algorithm: it walks live paths in order, notes each sub-folder
  at its first path and jumps past it, then counts each sub-folder of the page (one
  aggregation each), so a page costs a few reads per child however many files the
  sub-folders hold.
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
FIRST_CHUNK, MIN_CHUNK, MAX_CHUNK = 20, 5, 400  # paths read at a time by ``walk_folder``

# ``make_entry(before, after)``: the log entry of one file's move (the service builds it).
EntryMaker = Callable[[FileRecord, FileRecord], LogEntry]
# ``paths(lo, inclusive, hi, n)``: up to ``n`` (path, file id) of live records with
# lo <(=) path < hi, in path order.
Paths = Callable[[str, bool, str, int], list[tuple[str, str]]]
# ``records(ids)``: those live records, in that order.
Records = Callable[[list[str]], list[FileRecord]]
# ``totals(prefixes)``: for each prefix, the live files under it and their bytes.
Totals = Callable[[list[str]], list[tuple[int, int]]]


def path_taken(path: str, holder: FileRecord | None, claimed_by: str | None = None) -> Conflict:
    """The 409 for a target path that another live record (or a running move) holds."""
    if claimed_by:
        return Conflict("a folder move to this path is in progress", path=path,
                        operation_id=claimed_by)
    if holder is not None and holder.status == "pending" and holder.version == 0:
        return Conflict("an upload to this path is already in progress", path=path)
    return Conflict("a file already exists at this path", path=path,
                    file_id=holder.id if holder else None)


def check_movable(record: FileRecord, expected_version: int | None,
                  if_revision: int | None = None) -> None:
    """409 unless the file is ready and (when given) at the expected version and revision
    (``If-Match``: of two moves that read the same revision, exactly one wins)."""
    if record.status != "ready":
        raise Conflict("file is not ready", status=record.status)
    if if_revision is not None and if_revision != record.revision:
        raise Conflict("the file changed since the revision you sent (If-Match)",
                       current_revision=record.revision, current_version=record.version)
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


def walk_folder(prefix: str, after: tuple[str, bool] | None, limit: int, paths: Paths,
                records: Records, totals: Totals) -> FolderPage:
    """One page of ``prefix``'s immediate children, in path order (see the module doc).

    ``after`` is the last child of the previous page: its name and whether it is a folder.
    Paths are read in chunks; once a chunk ends inside a sub-folder, the next one starts
    past it. A chunk that yielded few new children (a big sub-folder) makes the next one
    smaller, a productive one larger, so a page reads few rows whatever the folders hold.
    """
    hi = folder_end(prefix)
    lo, inclusive = prefix, True
    if after is not None:
        name, is_folder = after
        lo, inclusive = (folder_end(prefix + name + "/"), True) if is_folder else (
            prefix + name, False)
    children: list[tuple[str, str | None]] = []  # (path, file id; None: a folder)
    chunk = FIRST_CHUNK
    while len(children) <= limit:
        rows = paths(lo, inclusive, hi, chunk)
        before = len(children)
        for path, file_id in rows:
            cut = path.find("/", len(prefix))
            child = (path, file_id) if cut == -1 else (path[: cut + 1], None)
            if not children or children[-1][0] != child[0]:
                children.append(child)
            if len(children) > limit:
                break
        if len(rows) < chunk or len(children) > limit:
            break
        last, file_id = children[-1]
        lo, inclusive = (last, False) if file_id else (folder_end(last), True)
        found = len(children) - before
        chunk = min(chunk * 2, MAX_CHUNK) if 2 * found >= len(rows) else max(
            chunk // 4, MIN_CHUNK)
    page, more = children[:limit], len(children) > limit
    folders = [path for path, file_id in page if file_id is None]
    files = records([file_id for _, file_id in page if file_id is not None])
    summaries = [FolderSummary(path, count, size)
                 for path, (count, size) in zip(folders, totals(folders), strict=True)]
    next_after = None
    if more and page:
        last, file_id = page[-1]
        next_after = (last[len(prefix):].rstrip("/"), file_id is None)
    return FolderPage(summaries, files, next_after)


class FolderRole(abc.ABC):
    """Moving files and folders; listing a folder's children."""

    @abc.abstractmethod
    def move_file(self, workspace_id: str, file_id: str, path: str, filename: str,
                  expected_version: int | None, make_entry: EntryMaker,
                  if_revision: int | None = None) -> FileRecord:
        """Give a ready file a new path and filename, with its log entry, atomically.

        Keeps the id, the versions and the bytes; bumps ``updated_at`` and ``revision``. A
        path held by another live record (a pending upload included) or claimed by a
        running folder move is a 409 (``path_taken``); so are a file that is not ready, a
        stale ``expected_version`` and a stale ``if_revision`` (``check_movable``).
        NotFound for a deleted or unknown file. The same path and filename change nothing
        and log nothing.
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
