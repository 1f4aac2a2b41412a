"""The metadata-store interface: ``MetadataStore``.

Backends implement a few primitives, each one atomic: reserve a path and number, finalize a
reservation together with its log entry, soft-delete together with its log entry, and the
queries. Ranking of search results happens here, on top of each backend's candidate set, so
SQLite (FTS5) and Firestore (token arrays) answer the same query the same way.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import text_index
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    Finalization,
    LogEntry,
    LogQuery,
    MemoryChange,
    MemoryDoc,
    MemoryVersion,
    Page,
    Reservation,
    Workspace,
)

SEARCH_CANDIDATE_CAP = 2000


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


def new_log_id() -> str:
    """Log ids look like the spec's ``log_abc123``, with enough entropy to never collide."""
    return f"log_{uuid.uuid4().hex[:20]}"


def new_workspace_id() -> str:
    """Workspace ids are opaque; they never reveal the user id."""
    return f"ws_{uuid.uuid4().hex}"


def format_file_id(number: int) -> str:
    """``file_000001``: six digits at least, as the spec numbers files."""
    return f"file_{number:06d}"


class MetadataStore(abc.ABC):
    """Workspaces, file records, the operation log and the blob purge queue."""

    name: str = "metadata"

    # -- workspaces -------------------------------------------------------------------
    @abc.abstractmethod
    def get_or_create_workspace(self, user_id: str) -> Workspace:
        """The user's workspace, created on first use; safe under concurrent first calls."""

    # -- files ------------------------------------------------------------------------
    @abc.abstractmethod
    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        """Hold ``draft.path``: a new pending record, or the next version of the live file.

        Raises ``Conflict`` when the path is live and ``overwrite`` is false, or when another
        upload to a new file at that path is still in flight.
        """

    @abc.abstractmethod
    def finalize_file(self, workspace_id: str, done: Finalization, entry: LogEntry,
                      retention_seconds: int) -> tuple[FileRecord, str | None]:
        """Make ``done.reservation`` ``ready`` and append ``entry``, in one transaction.

        The purge intent of ``done.storage_key`` (see ``schedule_purge``) is dropped in that
        transaction, unless the blob lost an overwrite race, when it is due at once.

        Returns the record and a storage key that is no longer referenced (the previous
        version, or this upload's own blob if a newer version won the race), which the
        caller leaves to the purge queue.
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
    def search_candidates(
        self, workspace_id: str, qwords: list[str], file_type: str | None, cap: int
    ) -> list[FileRecord]:
        """Live, ready records whose words have every query word as a prefix (unranked)."""

    @abc.abstractmethod
    def delete_file(
        self, workspace_id: str, file_id: str, entry: LogEntry, retention_seconds: int
    ) -> FileRecord:
        """Soft-delete: free the path, keep the record, queue the blob for purge, log it."""

    # -- memory -----------------------------------------------------------------------
    @abc.abstractmethod
    def get_memory(self, workspace_id: str) -> MemoryDoc:
        """The current memory (empty, version 0, before the first write)."""

    @abc.abstractmethod
    def mutate_memory(
        self,
        workspace_id: str,
        mutate: Callable[[MemoryDoc], MemoryChange],
        updated_by: str | None,
        keep_versions: int,
    ) -> MemoryDoc:
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

    # -- operation log ----------------------------------------------------------------
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
    def search_log_candidates(self, workspace_id: str, qwords: list[str],
                              cap: int) -> list[LogEntry]:
        """Entries whose words have every query word as a prefix (unranked, newest first)."""

    # -- purge ------------------------------------------------------------------------
    @abc.abstractmethod
    def due_purges(self, now: str, limit: int) -> list[str]:
        """Storage keys whose retention has run out."""

    @abc.abstractmethod
    def mark_purged(self, keys: list[str]) -> None:
        """Forget keys whose blobs were deleted."""

    @abc.abstractmethod
    def schedule_purge(self, key: str, due: str) -> None:
        """Record that ``key``'s blob must be deleted at ``due`` unless a record claims it.

        Written before a blob is promoted: ``finalize_file`` removes the entry in the
        same transaction that makes the record point at the blob. A crash in between
        leaves a blob that the sweep deletes, never an unregistered one for good.
        """

    @abc.abstractmethod
    def stale_reservations(self, older_than: str, limit: int) -> list[tuple[str, Reservation]]:
        """Pending new-file reservations not finalized since ``older_than`` (crashed uploads)."""

    @abc.abstractmethod
    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        """Turn a pending new-file reservation into ``status: infected``, with its log entry.

        ``details`` are merged into the record's metadata (``scan`` key). None when the
        record is not a pending new file any more (nothing changes then).
        """

    @abc.abstractmethod
    def usage_bytes(self, workspace_id: str) -> int:
        """The summed size of the workspace's live files (quota accounting)."""

    # -- small keyed documents (upload tickets, event claims) -------------------------
    @abc.abstractmethod
    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        """Create-only: the new doc, or None when ``key`` already exists (nothing changes)."""

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
        """Docs of ``kind`` whose ``due_at`` is at or before ``now``."""

    @abc.abstractmethod
    def scoped_docs(self, kind: str, scope: str, limit: int) -> list[Doc]:
        """Docs of ``kind`` in ``scope`` (a workspace id)."""

    # -- health -----------------------------------------------------------------------
    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the backend answers."""

    def describe(self) -> dict[str, str]:
        """What health checks report about this backend."""
        return {"backend": self.name}

    # -- conveniences built on the primitives -----------------------------------------
    def search_files(
        self, workspace_id: str, query: str, file_type: str | None, limit: int
    ) -> list[FileRecord]:
        """Ranked search over filename, description and tags (see ``shared.text_index``)."""
        qwords = text_index.query_words(query)
        if not qwords:
            return []
        candidates = self.search_candidates(workspace_id, qwords, file_type, SEARCH_CANDIDATE_CAP)
        ranked = [(_rank(qwords, r), r) for r in candidates]
        hits = sorted(((s, r) for s, r in ranked if s is not None),
                      key=lambda pair: (-pair[0], pair[1].number))
        return [r for _, r in hits[:limit]]


    def search_logs(self, workspace_id: str, query: str, limit: int) -> list[LogEntry]:
        """Ranked search over log details, resource id, agent and task ids."""
        qwords = text_index.query_words(query)
        if not qwords:
            return []
        candidates = self.search_log_candidates(workspace_id, qwords, SEARCH_CANDIDATE_CAP)
        ranked = [(text_index.rank(qwords, [(log_search_text(e), 1.0)]), e) for e in candidates]
        hits = sorted(((s, e) for s, e in ranked if s is not None),
                      key=lambda pair: (-pair[0], _newest_first(pair[1])))
        return [e for _, e in hits[:limit]]


def _flatten(value: object) -> list[str]:
    if isinstance(value, dict):
        return [part for item in value.values() for part in _flatten(item)]
    if isinstance(value, list | tuple):
        return [part for item in value for part in _flatten(item)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def log_search_text(entry: LogEntry) -> str:
    """The words a log entry is found by: details, ids, agent, task and operation."""
    parts = [entry.operation_type, entry.resource_type, entry.resource_id or "",
             entry.agent_id or "", entry.task_id or "", *_flatten(entry.details)]
    return text_index.index_text(parts)


def _newest_first(entry: LogEntry) -> tuple[int, ...]:
    return tuple(-ord(c) for c in entry.timestamp + entry.id)


def _rank(qwords: list[str], record: FileRecord) -> float | None:
    return text_index.rank(
        qwords,
        [(record.filename, 3.0), (" ".join(record.tags), 2.0), (record.description, 1.0)],
    )


def search_text(draft_or_record: FileDraft | FileRecord) -> str:
    """The words a record is indexed under."""
    return text_index.index_text(
        [draft_or_record.filename, draft_or_record.description, *draft_or_record.tags]
    )
