"""``InlineUpload``: the state machine of one upload whose bytes pass through the service.

An upload (multipart ``POST /files``, or an in-process write such as a media output) goes:

1. **fields** arrive and are checked one by one (``FormFields``);
2. **reserve**, early: when the file part begins and the fields so far settle its path, on a
   store that ``writes_in_place`` (GCS), the path and number are reserved first, the purge
   intent is written, and the bytes stream straight to their final key (no copy later);
3. **stage**: the bytes stream through an ``Ingest`` (size cap, SHA-256, MIME sniff, scan,
   staging), never where a record could point at them;
4. **verdict**: malware is refused (422, logged); an unreachable scanner is a 503;
5. **reserve**, late: if nothing was reserved early, or a later field moved the file
   (``PLACEMENT_FIELDS``), the reservation is made now;
6. **promote** the staged blob to its key (create-only), then **finalize** the record with
   its log entry in one transaction.

Each step lives in one method. The reservation has one owner: it is held until finalize
lands and released by ``close`` otherwise, so a failed upload leaves no record, no blob and
no held path behind. The record stays ``pending`` (never served) until finalize.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from shared.context import RequestContext
from shared.errors import BackendUnavailable, BadRequest, Conflict, Infected, WorkspaceError
from shared.files.drafts import PLACEMENT_FIELDS, FormFields
from shared.files.ingest import Ingest
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import (
    BlobFacts,
    FileDraft,
    FileRecord,
    Finalization,
    LogEntry,
    Reservation,
    Workspace,
)
from shared.quota import Quota
from shared.scanning.base import Scanner, Verdict
from shared.storage.base import BlobStore, blob_key
from shared.timeutil import plus_seconds, utcnow

log = logging.getLogger(__name__)

STALE_UPLOAD_SECONDS = 3600  # a reservation or staged blob this old belongs to no request


@dataclass(frozen=True)
class UploadStores:
    """What an upload writes to, and its limits."""

    blobs: BlobStore
    meta: MetadataStore
    scanner: Scanner
    max_bytes: int
    retention_seconds: int
    quota: Quota


def file_entry(ctx: RequestContext, op: str, resource_id: str | None,
               details: dict[str, object]) -> LogEntry:
    """A log entry about a file, attributed to the caller's agent, task, session and API
    key."""
    return LogEntry(new_log_id(), utcnow(), op, "file", resource_id, ctx.log_details(details),
                    ctx.agent_id, ctx.task_id, ctx.session_id)


class InlineUpload:
    """One upload; a ``FormHandler`` (``field``, ``file_start``, ``file_data``), then
    ``finish`` for the record; ``close`` always (it undoes whatever did not land)."""

    def __init__(self, stores: UploadStores, ctx: RequestContext, ws: Workspace,
                 form: FormFields | None = None) -> None:
        self.stores, self.ctx, self.ws = stores, ctx, ws
        self.form = form or FormFields()
        self._part_filename = ""
        self._ingest: Ingest | None = None
        self._reservation: Reservation | None = None
        self._intent_key: str | None = None  # the key whose purge intent is written
        self._moved = False
        self._room: int | None = None  # what the quota leaves (None: unlimited)

    # -- 1. fields, 3. bytes (the FormHandler side) -------------------------------------------
    def field(self, name: str, value: str) -> None:
        """A text field; one that moves the file after an early reservation is noted."""
        self.form.add(name, value)
        if self._reservation is not None and name in PLACEMENT_FIELDS:
            self._moved = True

    def file_start(self, filename: str, content_type: str | None = None) -> None:
        """The bytes begin: reserve early where that saves a copy, then open the staging."""
        self._part_filename = filename or ""
        self._room = self.stores.quota.remaining(self.ws.id)
        key = self._reserve_early()
        self._ingest = Ingest(self.stores.blobs, self.stores.scanner, self.stores.max_bytes,
                              key=key)

    def file_data(self, chunk: bytes) -> None:
        """The next bytes: digested and staged as they arrive (413 past the cap)."""
        assert self._ingest is not None, "file_data before file_start"
        self._ingest.write(chunk)
        if self._room is not None and self._ingest.size > self._room:
            raise self.stores.quota.exceeded()

    # -- 2. and 5. reserve ------------------------------------------------------------------
    def _reserve(self, draft: FileDraft, overwrite: bool) -> str:
        """Hold the path (and number or version), and write the blob's purge intent first:
        a crash after the bytes land leaves nothing the sweep does not remove."""
        reservation = self.stores.meta.reserve_file(self.ws.id, draft, overwrite)
        self._reservation = reservation
        key = blob_key(self.ws.id, reservation.file_id, reservation.slot, draft.filename)
        self.stores.meta.schedule_purge(key, plus_seconds(utcnow(), STALE_UPLOAD_SECONDS))
        self._intent_key = key
        return key

    def _reserve_early(self) -> str | None:
        """The final key when the fields so far settle the path on a ``writes_in_place``
        store; None to stage and reserve at the end (invalid so far, or the path is taken
        and a later field may still move it)."""
        if not self.stores.blobs.writes_in_place:
            return None
        try:
            draft, overwrite = self.form.fields.to_draft(self.ctx, self._part_filename)
            return self._reserve(draft, overwrite)
        except (BadRequest, Conflict):
            self._release()
            return None

    def _release(self) -> None:
        """Give back a reservation that will not be finalized (the one place that does)."""
        reservation, self._reservation = self._reservation, None
        if reservation is not None:
            with contextlib.suppress(WorkspaceError):  # the sweep frees what fails here
                self.stores.meta.release_reservation(self.ws.id, reservation)

    # -- 4. verdict, 6. promote and finalize -------------------------------------------------
    def finish(self) -> FileRecord:
        """The verdict, then the record: ``ready``, or an error with everything undone."""
        assert self._ingest is not None, "finish before file_start"
        draft, overwrite = self.form.fields.to_draft(self.ctx, self._part_filename)
        verdict, facts = self._ingest.finish(draft.filename)
        self._refuse_infected(draft, verdict, facts)
        self.stores.quota.check(self.ws.id, facts.size_bytes)  # again: others may have landed
        if self._moved:  # a later field moved it: reserve again, then copy
            self._release()
        key = self._reserve(draft, overwrite) if self._reservation is None else self._intent_key
        assert key is not None and self._reservation is not None
        return self._commit(draft, facts, self._reservation, key, verdict.record(utcnow()))

    def _refuse_infected(self, draft: FileDraft, verdict: Verdict, facts: BlobFacts) -> None:
        """Raise ``Infected`` (after logging the scan) when the verdict found malware."""
        if not verdict.infected:
            return
        signature = verdict.signature or "unknown"
        self.stores.meta.append_log(self.ws.id, file_entry(self.ctx, "scan", None, {
            "verdict": "infected", "signature": signature, "filename": draft.filename,
            "path": draft.path, "size_bytes": facts.size_bytes}))
        log.warning("upload rejected: malware %s in workspace %s", signature, self.ws.id)
        raise Infected(signature)

    def _commit(self, draft: FileDraft, facts: BlobFacts, reservation: Reservation,
                key: str, scan: dict[str, object]) -> FileRecord:
        """Promote, then finalize; on failure delete what was promoted, unless the outcome
        is unknown (see below). ``close`` releases the reservation."""
        assert self._ingest is not None
        blobs, meta = self.stores.blobs, self.stores.meta
        promoted = False
        try:
            blobs.promote(self._ingest.staged, key)
            promoted = True
            entry = file_entry(self.ctx, "create" if reservation.is_new else "update",
                               reservation.file_id, {
                                   "filename": draft.filename, "description": draft.description,
                                   "file_type": facts.file_type,
                                   "size_bytes": facts.size_bytes, "path": draft.path,
                                   "checksum": facts.checksum})  # the store adds "version"
            done = Finalization(draft, reservation, key, blobs.storage_path(key), facts,
                                self.form.fields.expected_version, scan)
            record, _previous = meta.finalize_file(self.ws.id, done, entry,
                                                   self.stores.retention_seconds)
        except BaseException as exc:
            landed = self._landed(reservation.file_id, key) if promoted else None
            if landed is None:
                # A metadata outage leaves the commit's outcome unknown: a write that timed
                # out may still apply later (a stalled backend catching up). Deleting the blob
                # then would leave a ready record pointing at nothing, so it stays, and its
                # purge intent deletes it once due, unless a commit that landed removed that
                # intent. Any other failure is definite: undo now.
                if promoted and not isinstance(exc, BackendUnavailable):
                    with contextlib.suppress(WorkspaceError):
                        blobs.delete(key)
                raise
            record = landed  # the commit applied though its answer was lost
        self._reservation = None  # finalized: nothing left to release
        return record

    def _landed(self, file_id: str, key: str) -> FileRecord | None:
        """The record when a finalize that raised (a deadline) committed after all."""
        try:
            record = self.stores.meta.get_file(self.ws.id, file_id)
        except WorkspaceError:
            return None
        ready = record is not None and record.status == "ready" and not record.is_deleted
        return record if ready and record.storage_key == key else None

    def close(self) -> None:
        """Undo what did not land: release the reservation, discard the staged bytes."""
        self._release()
        if self._ingest is not None:
            self._ingest.discard()
