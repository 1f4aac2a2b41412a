"""The metadata-store interface, grouped by role: ``MetadataStore`` and its parts.

A backend implements a few primitives per role, each one atomic:

- ``WorkspaceRole``: one workspace per user, created on first use;
- ``FileRole``: reserve a path and number, finalize a reservation together with its log
  entry, soft-delete together with its log entry, mark an upload infected, and the queries;
- ``FolderRole`` (``folders.py``): move a file, move a folder, list a folder's children;
- ``LogRole``: the operation log (append, filtered pages, search candidates);
- ``MemoryRole``: the global memory, changed only through one atomic ``mutate_memory``;
- ``DocRole``: small keyed documents with optimistic concurrency (upload tickets, event
  locks, and the blob purge queue);
- ``KeyRole`` (``keys.py``): workspace API keys and their rate-limit buckets;
- ``OutboxRole`` (``outbox.py``): the events each change writes with it, read and drained;
- ``ScanRole`` (``scans.py``): scan records, rescan candidates and rescans.

Conveniences are built here on the primitives: the purge queue (``schedule_purge``,
``due_purges``, ``mark_purged``) on keyed documents, and ranked search on each backend's
candidate set, so SQLite (FTS5) and Firestore (token arrays) answer a query the same way.
"""

from __future__ import annotations

import abc
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import Conflict
from shared.metadata.edits import FileEditRole
from shared.metadata.folders import FolderRole
from shared.metadata.keys import KeyRole
from shared.metadata.outbox import OutboxRole
from shared.metadata.scans import ScanRole
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    FileVersion,
    Finalization,
    Hits,
    LogEntry,
    LogQuery,
    MemoryChange,
    MemoryDoc,
    MemoryVersion,
    Page,
    Reservation,
    Usage,
    Workspace,
)

PURGE_KIND = "purge_queue"  # keyed docs: storage key → when its blob must be deleted


@dataclass(frozen=True)
class Doc:
    """A small keyed document (``create_doc`` & co.): its data and an opaque change token.

    ``token`` identifies the stored revision; ``replace_doc``/``delete_doc`` apply only while
    it is unchanged (optimistic concurrency, like a generation precondition).
    """

    kind: str
    key: str
    data: dict[str, Any]
    scope: str
    due_at: str
    token: object


def version_purge(workspace_id: str, file_id: str, version: int) -> dict[str, Any]:
    """The data of a purge entry for a file version's blob (``mark_purged`` reads it)."""
    return {"workspace_id": workspace_id, "file_id": file_id, "version": version}


def check_expected(done: Finalization, live_version: int) -> None:
    """409 when the writer expected another live version than ``live_version``."""
    if done.expected_version is not None and done.expected_version != live_version:
        raise Conflict("the file changed since the expected version",
                       current_version=live_version, expected_version=done.expected_version)


def stamped(entry: LogEntry, version: int) -> LogEntry:
    """The log entry of a finalize, with the version the commit assigned."""
    return dataclasses.replace(entry, details={**entry.details, "version": version})


def new_log_id() -> str:
    """Log ids look like the spec's ``log_abc123``, with enough entropy to never collide."""
    return f"log_{uuid.uuid4().hex[:20]}"


def new_workspace_id() -> str:
    """Workspace ids are opaque; they never reveal the user id."""
    return f"ws_{uuid.uuid4().hex}"


def format_file_id(number: int) -> str:
    """``file_000001``: six digits at least, as the spec numbers files."""
    return f"file_{number:06d}"


class WorkspaceRole(abc.ABC):
    """Workspaces."""

    @abc.abstractmethod
    def get_or_create_workspace(self, user_id: str) -> Workspace:
        """The user's workspace, created on first use; safe under concurrent first calls."""


class FileRole(abc.ABC):
    """File records: reservations, versions, soft deletes and the queries over them."""

    @abc.abstractmethod
    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        """Hold ``draft.path``: a new pending record, or the next version of the live file.

        Raises ``Conflict`` when the path is live and ``overwrite`` is false, or when another
        upload to a new file at that path is still in flight.
        """

    @abc.abstractmethod
    def finalize_file(self, workspace_id: str, done: Finalization, entry: LogEntry,
                      retention_seconds: int) -> tuple[FileRecord, str | None]:
        """Make ``done`` the file's live version and append ``entry``, in one transaction.

        Versions are numbered in commit order (the live one + 1), so every finalized upload
        is a distinct version that was live, and concurrent overwrites form one total order.
        ``entry.details["version"]`` is set to that number. The new version is kept in the
        version history; the previous one stays readable until ``retention_seconds`` after
        it was superseded (its blob is queued for purge then). The purge intent of
        ``done.storage_key`` is dropped in the same transaction.

        Raises ``Conflict`` when the file was deleted meanwhile, or when
        ``done.expected_version`` is set and is not the live version (``current_version``).
        Returns the record and the previous version's storage key (None for a new file).
        """

    @abc.abstractmethod
    def release_reservation(self, workspace_id: str, reservation: Reservation) -> None:
        """Undo a reservation whose upload failed; frees the path of a new file."""

    @abc.abstractmethod
    def get_file(self, workspace_id: str, file_id: str) -> FileRecord | None:
        """A record by id, deleted ones included; None when absent."""

    @abc.abstractmethod
    def get_file_by_path(self, workspace_id: str, path: str) -> FileRecord | None:
        """The live record at a virtual path, or None."""

    @abc.abstractmethod
    def list_files(self, workspace_id: str, query: FileQuery) -> Page[FileRecord]:
        """Live records matching every filter, in file-number order, one page at a time."""

    @abc.abstractmethod
    def count_files(self, workspace_id: str, query: FileQuery) -> int:
        """How many live records match (limit and cursor are ignored)."""

    @abc.abstractmethod
    def count_search_files(self, workspace_id: str, query: str, file_type: str | None,
                           limit: int, path_prefix: str | None = None) -> Hits[FileRecord]:
        """Live, ready records matching every word of ``query`` (filename, description,
        tags; see ``shared.text_index``), best first by ``shared.metadata.ranking``'s rule,
        at most ``limit``, with the number of matches: exact, or flagged a lower bound.

        ``path_prefix`` (a folder, ending in '/') limits them to one session's folder, and
        limits the total too: other sessions' files never count or crowd out this one's."""

    @abc.abstractmethod
    def delete_file(self, workspace_id: str, file_id: str, entry: LogEntry,
                    retention_seconds: int) -> FileRecord:
        """Soft-delete: free the path, keep the record, queue the blob for purge, log it."""

    @abc.abstractmethod
    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry, checksum: str | None = None) -> FileRecord | None:
        """Turn a pending new-file reservation into ``status: infected``, with its log entry
        and its ``infected`` event (about version 1 and ``checksum``, the refused bytes).

        ``details`` (the scan record) become the record's ``scan`` and are merged into its
        metadata (``scan`` key). None when the record is not a pending new file any more
        (nothing changes then).
        """

    @abc.abstractmethod
    def stale_reservations(self, older_than: str, limit: int) -> list[tuple[str, Reservation]]:
        """Pending new-file reservations not finalized since ``older_than`` (crashed uploads)."""

    @abc.abstractmethod
    def list_file_versions(self, workspace_id: str, file_id: str) -> list[FileVersion]:
        """Every version of a file, newest first (purged ones say so)."""

    @abc.abstractmethod
    def get_file_version(self, workspace_id: str, file_id: str,
                         version: int) -> FileVersion | None:
        """One version of a file, or None."""

    @abc.abstractmethod
    def mark_version_purged(self, workspace_id: str, file_id: str, version: int) -> None:
        """The purge deleted this version's bytes: it is listed, but no longer readable."""

    @abc.abstractmethod
    def usage(self, workspace_id: str) -> Usage:
        """Bytes in live files and in kept versions (not yet purged), and the file count."""


class LogRole(abc.ABC):
    """The operation log (entries of changes are written by the other roles' transactions)."""

    @abc.abstractmethod
    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        """Append one entry."""

    @abc.abstractmethod
    def list_logs(self, workspace_id: str, query: LogQuery) -> Page[LogEntry]:
        """Entries matching every filter, newest first, one page at a time."""

    @abc.abstractmethod
    def count_logs(self, workspace_id: str) -> int:
        """How many entries the workspace's log holds."""

    @abc.abstractmethod
    def oldest_log(self, workspace_id: str) -> str | None:
        """The timestamp of the workspace's oldest kept entry (None: no entry)."""

    @abc.abstractmethod
    def expire_logs(self, older_than: str, limit: int) -> int:
        """Delete up to ``limit`` entries (of any workspace) written before ``older_than``;
        how many went."""

    @abc.abstractmethod
    def count_search_logs(self, workspace_id: str, query: str, limit: int,
                          session_id: str | None = None) -> Hits[LogEntry]:
        """Entries matching every word of ``query`` (details, resource id, agent and task
        ids), best first (ties newest first), at most ``limit``, with the number of
        matches (exact, or flagged a lower bound); only those written in ``session_id``
        when given, in the total too."""


class MemoryRole(abc.ABC):
    """The global memory and its kept versions."""

    @abc.abstractmethod
    def get_memory(self, workspace_id: str) -> MemoryDoc:
        """The current memory (empty, version 0, before the first write)."""

    @abc.abstractmethod
    def mutate_memory(self, workspace_id: str, mutate: Callable[[MemoryDoc], MemoryChange],
                      updated_by: str | None, keep_versions: int) -> MemoryDoc:
        """Atomically read the memory, apply ``mutate`` and store its result as a new version.

        ``mutate`` may raise (a stale version, a rejected overflow) and then nothing
        changes. The change and its log entry commit together; versions beyond
        ``keep_versions`` are dropped.
        """

    @abc.abstractmethod
    def list_memory_versions(self, workspace_id: str) -> list[MemoryVersion]:
        """Kept versions, newest first."""

    @abc.abstractmethod
    def get_memory_version(self, workspace_id: str, version: int) -> MemoryVersion | None:
        """One kept version, or None."""


class DocRole(abc.ABC):
    """Small keyed documents with optimistic concurrency."""

    @abc.abstractmethod
    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        """Create-only: the new doc, or None when ``key`` already exists (nothing changes)."""

    @abc.abstractmethod
    def put_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                due_at: str) -> None:
        """Create or replace, unconditionally."""

    @abc.abstractmethod
    def get_doc(self, kind: str, key: str) -> Doc | None:
        """The doc, or None."""

    @abc.abstractmethod
    def replace_doc(self, doc: Doc, data: dict[str, Any], due_at: str) -> Doc | None:
        """Replace if unchanged since ``doc`` was read: the new doc, or None when it changed."""

    @abc.abstractmethod
    def delete_doc(self, doc: Doc) -> bool:
        """Delete if unchanged since ``doc`` was read; False when it changed or is gone."""

    @abc.abstractmethod
    def due_docs(self, kind: str, now: str, limit: int) -> list[Doc]:
        """Docs of ``kind`` whose ``due_at`` is at or before ``now``, soonest first."""

    @abc.abstractmethod
    def scoped_docs(self, kind: str, scope: str, limit: int) -> list[Doc]:
        """Docs of ``kind`` in ``scope`` (a workspace id)."""


class MetadataStore(FileEditRole, FolderRole, WorkspaceRole, FileRole, LogRole, MemoryRole,
                    DocRole, KeyRole, OutboxRole, ScanRole):
    """Workspaces, file records, folders, the operation log, the memory, keyed documents,
    keys, the event outbox and scan records."""

    name: str = "metadata"

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the backend answers."""

    def describe(self) -> dict[str, str]:
        """What health checks report about this backend."""
        return {"backend": self.name}

    # -- the blob purge queue, built on the keyed docs and the file versions -----------
    def schedule_purge(self, key: str, due: str) -> None:
        """Record that ``key``'s blob must be deleted at ``due`` unless a record claims it.

        Written before a blob is promoted: ``finalize_file`` removes the entry in the
        same transaction that makes the record point at the blob. A crash in between
        leaves a blob that the sweep deletes, never an unregistered one for good.
        """
        self.put_doc(PURGE_KIND, key, {}, "", due)

    def due_purges(self, now: str, limit: int) -> list[Doc]:
        """Purge entries whose time has come (``doc.key`` is the storage key)."""
        return self.due_docs(PURGE_KIND, now, limit) if limit > 0 else []

    def mark_purged(self, entries: list[Doc]) -> int:
        """Forget entries whose blobs were deleted (unless rescheduled since); how many.

        An entry that names a file version (``workspace_id``, ``file_id``, ``version`` in its
        data) marks that version purged.
        """
        forgotten = 0
        for entry in entries:
            if not self.delete_doc(entry):
                continue
            forgotten += 1
            data = entry.data
            if {"workspace_id", "file_id", "version"} <= set(data):
                self.mark_version_purged(data["workspace_id"], data["file_id"],
                                         int(data["version"]))
        return forgotten

    # -- search, ranked the same way on every backend ------------------------------------
    def search_files(self, workspace_id: str, query: str, file_type: str | None,
                     limit: int, path_prefix: str | None = None) -> list[FileRecord]:
        """Ranked search over filename, description and tags (see ``shared.text_index``)."""
        return self.count_search_files(workspace_id, query, file_type, limit, path_prefix).items

    def search_logs(self, workspace_id: str, query: str, limit: int,
                    session_id: str | None = None) -> list[LogEntry]:
        """Ranked search over log details, resource id, agent and task ids."""
        return self.count_search_logs(workspace_id, query, limit, session_id).items

