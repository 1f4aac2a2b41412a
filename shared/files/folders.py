"""``FolderService``: moving and renaming files, listing and moving folders.

A move changes where a file is listed, never what it is: the id, the versions and the
bytes stay, ``updated_at`` moves on and one log entry records the old and new place. The
store's ``FolderRole`` does the atomic part; this module decides the destination from the
caller's fields, checks them once, and builds the log entries.

- ``move_file``: ``PATCH /files/{id}`` with ``path`` and/or ``filename`` (the entry point
  the PATCH handler calls for those fields).
- ``list``: ``GET /folders``; ``move_folder`` / ``get_move``: ``POST /folders/move`` and
  ``GET /folders/moves/{id}``; ``redrive``: the sweep's part (running moves left idle,
  finished ones past their keep time).
"""

from __future__ import annotations

import re

from shared import validation as v
from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, NotFound
from shared.files.upload import file_entry
from shared.folderpaths import (
    FOLDER_MOVE_KIND,
    FolderMove,
    FolderPage,
    name_of,
    new_move_id,
    parent_of,
)
from shared.metadata.base import MetadataStore
from shared.metadata.folders import EntryMaker
from shared.models import FileRecord, LogEntry, Workspace
from shared.queries import FolderQuery
from shared.timeutil import utcnow

REDRIVE_BATCH = 20
_MOVE_ID = re.compile(r"fmv_[0-9a-f]{20}")


def move_details(before: FileRecord, after: FileRecord) -> dict[str, object]:
    """A move's log details: the old and the new place (and the file's version)."""
    return {"filename": after.filename, "version": after.version,
            "old": {"path": before.path, "filename": before.filename},
            "new": {"path": after.path, "filename": after.filename}}


class FolderService:
    """Moves and folder listings over one metadata store."""

    def __init__(self, meta: MetadataStore, budget_seconds: float) -> None:
        self.meta = meta
        self.budget_seconds = budget_seconds

    def workspace(self, ctx: RequestContext) -> Workspace:
        """The caller's workspace, created on first use."""
        return self.meta.get_or_create_workspace(ctx.user_id)

    # -- one file -------------------------------------------------------------------------
    def move_file(self, ctx: RequestContext, file_id: str, path: str | None = None,
                  filename: str | None = None, expected_version: int | None = None,
                  if_revision: int | None = None) -> FileRecord:
        """Move or rename a ready file (``PATCH``'s ``path``/``filename``).

        ``path`` ending in '/' is a folder (the file keeps its name there, or takes
        ``filename``); a full ``path`` names the file too (``filename``, if also given,
        must be its last segment); ``filename`` alone renames in place. 409 for a taken
        path, a stale ``expected_version`` or ``if_revision`` (``If-Match``), or a file that
        is not ready.
        """
        ws = self.workspace(ctx)
        record = self.meta.get_file(ws.id, v.check_file_id(file_id)) if file_id else None
        if record is None or record.is_deleted:
            raise NotFound("file not found")
        new_path, new_name = destination(record, path, filename)

        def make_entry(before: FileRecord, after: FileRecord) -> LogEntry:
            return file_entry(ctx, "update", after.id, move_details(before, after))

        return self.meta.move_file(ws.id, record.id, new_path, new_name, expected_version,
                                   make_entry, if_revision)

    # -- folders --------------------------------------------------------------------------
    def list(self, ctx: RequestContext, query: FolderQuery) -> FolderPage:
        """One page of a folder's immediate children (sub-folders with totals, files)."""
        return self.meta.list_folder(self.workspace(ctx).id, query.prefix, query.after,
                                     query.limit)

    def move_folder(self, ctx: RequestContext, source: str, target: str) -> FolderMove:
        """Move every live file under ``source`` to the same place under ``target``.

        Answers the move's status: ``done``, or (Firestore, past the budget) ``moving``,
        to be resumed by the same POST again or by the sweep.
        """
        src, dst = v.check_folder_path(source, "from"), v.check_folder_path(target, "to")
        if dst.startswith(src):
            raise Conflict("a folder cannot move into itself or its own sub-folder", path=dst)
        ws, now = self.workspace(ctx), utcnow()
        move = FolderMove(new_move_id(), ws.id, src, dst, "claiming", now, now,
                          agent_id=ctx.agent_id, task_id=ctx.task_id, session_id=ctx.session_id)
        return self.meta.start_folder_move(move, folder_entries(move), self.budget_seconds)

    def get_move(self, ctx: RequestContext, move_id: str) -> FolderMove:
        """A folder move's status; 404 for unknown ids and other users' moves."""
        doc = self.meta.get_doc(FOLDER_MOVE_KIND, move_id) if _MOVE_ID.fullmatch(
            move_id) else None
        if doc is None or doc.scope != self.workspace(ctx).id:
            raise NotFound("folder move not found")
        return FolderMove.from_doc(doc.data)

    def redrive(self, now: str | None = None, limit: int = REDRIVE_BATCH) -> dict[str, int]:
        """The sweep: resume moves left idle, forget finished ones past their keep time."""
        resumed = forgotten = 0
        for doc in self.meta.due_docs(FOLDER_MOVE_KIND, now or utcnow(), limit):
            move = FolderMove.from_doc(doc.data)
            if move.active:
                self.meta.resume_folder_move(move, folder_entries(move), self.budget_seconds)
                resumed += 1
            elif self.meta.delete_doc(doc):
                forgotten += 1
        return {"folder_moves_resumed": resumed, "folder_moves_forgotten": forgotten}


def destination(record: FileRecord, path: str | None,
                filename: str | None) -> tuple[str, str]:
    """The checked path and filename a PATCH asks for (see ``move_file``)."""
    if path is None and filename is None:
        raise BadRequest("give path or filename to move or rename the file")
    name = v.check_filename(filename) if filename is not None else None
    if path is None:
        assert name is not None
        return v.check_virtual_path(parent_of(record.path) + name), name
    if not isinstance(path, str) or not path:
        raise BadRequest("path must be a non-empty string")
    if path.endswith("/"):
        name = name or record.filename
        return v.check_virtual_path(v.check_path_prefix(path) + name), name
    full = v.check_virtual_path(path)
    if name is not None and name != name_of(full):
        raise BadRequest("filename must be the last segment of path (or give a folder path "
                         "ending in '/')")
    return full, name_of(full)


def folder_entries(move: FolderMove) -> EntryMaker:
    """The log entry of each file a folder move moves, attributed to whoever started it."""
    ctx = RequestContext("", move.agent_id, move.task_id, move.session_id)

    def make(before: FileRecord, after: FileRecord) -> LogEntry:
        return file_entry(ctx, "update", after.id, {
            **move_details(before, after),
            "folder_move": {"id": move.id, "from": move.source, "to": move.target}})

    return make
