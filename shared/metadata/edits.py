"""``FileEditRole``: changing a file record in place, one of the store's roles, and the
rules both backends apply inside their transactions (``check_edit``, ``edited``,
``edit_entry``): an edit is checked against the record it read, so of two edits that read the
same revision exactly one commits.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from shared.errors import Conflict, NotFound
from shared.models import FileEdit, FileRecord, LogEntry


def check_edit(record: FileRecord | None, edit: FileEdit) -> FileRecord:
    """The record an edit may change: live (404 otherwise), ready and as expected (409)."""
    if record is None or record.is_deleted:
        raise NotFound("file not found")
    if record.status != "ready":
        raise Conflict("the file is not ready; only a ready file can be edited",
                       status=record.status)
    if edit.if_revision is not None and edit.if_revision != record.revision:
        raise Conflict("the file changed since the revision you sent (If-Match)",
                       current_revision=record.revision, current_version=record.version)
    if edit.expected_version is not None and edit.expected_version != record.version:
        raise Conflict("the file changed since the expected version",
                       current_version=record.version, current_revision=record.revision)
    return record


def edited(record: FileRecord, edit: FileEdit, now: str) -> FileRecord:
    """The record after ``edit``: its fields, ``updated_at`` and the next revision."""
    return dataclasses.replace(
        record, description=record.description if edit.description is None
        else edit.description, tags=record.tags if edit.tags is None else edit.tags,
        metadata=record.metadata if edit.metadata is None else edit.metadata,
        updated_at=now, revision=record.revision + 1)


def edit_entry(entry: LogEntry, changes: dict[str, Any], revision: int) -> LogEntry:
    """An edit's log entry: the old and new value of every changed field, the revision."""
    return dataclasses.replace(entry, details={**entry.details, "changes": changes,
                                               "revision": revision})



class FileEditRole(abc.ABC):
    """Changing a record in place: metadata edits and undeletes (no new blob version)."""

    @abc.abstractmethod
    def edit_file(self, workspace_id: str, file_id: str, edit: FileEdit,
                  entry: LogEntry) -> FileRecord:
        """Apply ``edit`` to a live, ready record with ``entry``, in one transaction.

        Checked inside the transaction (``check_edit``): 404 for a missing or deleted file,
        409 when it is not ready or a precondition fails, so of two edits that sent the same
        ``if_revision`` exactly one wins. A real change bumps ``revision`` and
        ``updated_at`` and logs ``edit_entry`` (old and new values); an edit that changes
        nothing returns the record untouched and logs nothing.
        """

    @abc.abstractmethod
    def restore_file(self, workspace_id: str, file_id: str, path: str | None,
                     entry: LogEntry) -> FileRecord:
        """Undelete: the record is live again at ``path`` (default: where it was), its
        version is no longer superseded nor queued for purge, and ``entry`` is logged.

        404 unless the file is deleted and its bytes are not purged yet; 409 when the path
        is held by a live file or an upload in flight (``path`` in the error).
        """
