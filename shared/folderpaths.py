"""Folders: path arithmetic and the values of the folder API (``FolderPage``, ``FolderMove``).

Folders are implicit: a folder is a prefix ending in '/' that some live file's path starts
with. Nothing stores a folder, so listing one and moving one are queries and updates over
file records. The rules here are shared by both metadata backends and the service, so the
embedded and the cloud deployment answer the same thing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.errors import BadRequest
from shared.models import FileRecord
from shared.timeutil import plus_seconds
from shared.validation import MAX_PATH_CHARS

MOVE_STATUSES = ("claiming", "moving", "done", "failed")
ACTIVE_STATUSES = ("claiming", "moving")
FOLDER_MOVE_KIND = "folder_moves"  # keyed docs: move id -> FolderMove.to_doc()
FOLDER_LOCK_KIND = "folder_move_locks"  # keyed docs: workspace id -> the move it runs


def folder_end(prefix: str) -> str:
    """The smallest string after every path under ``prefix``: '0' follows '/'."""
    return prefix[:-1] + "0"


def parent_of(path: str) -> str:
    """The folder holding ``path`` (``/a/b.txt`` -> ``/a/``)."""
    return path[: path.rindex("/") + 1]


def name_of(path: str) -> str:
    """The last segment of a file path."""
    return path[path.rindex("/") + 1:]


def target_of(path: str, source: str, target: str) -> str:
    """Where a folder move puts ``path`` (which lies under ``source``)."""
    moved = target + path[len(source):]
    if len(moved) > MAX_PATH_CHARS:
        raise BadRequest(f"moving {path} to {moved[:80]}... would make a path longer than "
                         f"{MAX_PATH_CHARS} characters", path=path)
    return moved


def new_move_id() -> str:
    """Move ids are opaque and unguessable."""
    return f"fmv_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class FolderSummary:
    """One immediate sub-folder: how many live files it holds (at any depth) and their bytes."""

    path: str
    file_count: int
    total_bytes: int

    def to_api(self) -> dict[str, Any]:
        """The listing's folder entry; ``name`` is the segment a tree shows."""
        return {"path": self.path, "name": self.path.rstrip("/").rsplit("/", 1)[1],
                "file_count": self.file_count, "total_bytes": self.total_bytes}


@dataclass(frozen=True)
class FolderPage:
    """One page of a folder's immediate children in name order: sub-folders and files.

    ``next_after`` is the last child of the page (a name, and whether it is a folder), or
    None at the end; the service wraps it into an opaque cursor.
    """

    folders: list[FolderSummary] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)
    next_after: tuple[str, bool] | None = None


@dataclass(frozen=True)
class FolderMove:
    """A folder move: every live file under ``source`` goes to the same place under ``target``.

    ``status``: ``claiming`` (target paths are being checked and held; nothing has moved),
    ``moving`` (files are moving, each one atomically), ``done``, or ``failed`` (a conflict
    was found while claiming: nothing moved, ``error`` and ``conflicts`` say why). On the
    embedded backend a move is one transaction, so only ``done`` is ever stored. ``state``
    is the backend's resume point; it is not part of the API.
    """

    id: str
    workspace_id: str
    source: str
    target: str
    status: str
    created_at: str
    updated_at: str
    files_total: int = 0
    files_moved: int = 0
    agent_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None
    error: str | None = None
    conflicts: tuple[dict[str, Any], ...] = ()
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True while the move still has work to do."""
        return self.status in ACTIVE_STATUSES

    def to_api(self) -> dict[str, Any]:
        """The operation's status as the API shows it."""
        return {"id": self.id, "from": self.source, "to": self.target, "status": self.status,
                "files_total": self.files_total, "files_moved": self.files_moved,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "error": self.error, "conflicts": list(self.conflicts)}

    def to_doc(self) -> dict[str, Any]:
        """The keyed document that stores it (``FOLDER_MOVE_KIND``, scoped to the workspace)."""
        return {"id": self.id, "workspace_id": self.workspace_id, "from": self.source,
                "to": self.target, "status": self.status, "created_at": self.created_at,
                "updated_at": self.updated_at, "files_total": self.files_total,
                "files_moved": self.files_moved, "agent_id": self.agent_id,
                "task_id": self.task_id, "session_id": self.session_id, "error": self.error,
                "conflicts": list(self.conflicts), "state": self.state}

    @classmethod
    def from_doc(cls, data: dict[str, Any]) -> FolderMove:
        """Read back ``to_doc``."""
        return cls(data["id"], data["workspace_id"], data["from"], data["to"], data["status"],
                   data["created_at"], data["updated_at"], data["files_total"],
                   data["files_moved"], data.get("agent_id"), data.get("task_id"),
                   data.get("session_id"), data.get("error"),
                   tuple(data.get("conflicts") or ()), dict(data.get("state") or {}))


MOVE_STALE_SECONDS = 60  # a running move idle this long is resumed by the sweep
MOVE_KEEP_SECONDS = 7 * 86400  # a finished move's status stays readable this long


def move_due_at(move: FolderMove) -> str:
    """When the sweep looks at a stored move next: resume it, or forget it once finished."""
    return plus_seconds(move.updated_at,
                        MOVE_STALE_SECONDS if move.active else MOVE_KEEP_SECONDS)
