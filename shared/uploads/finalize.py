"""``Finalizer``: what a finalized object in the landing zone becomes.

``handle`` takes an ``ObjectEvent`` (either envelope, see ``shared.uploads.events``);
``process`` does the work for one ``bucket/name#generation`` and is also what the sweep
re-drives. Every step is pinned to that generation, and an ``EventLocks`` lock keyed by it
makes duplicate and late deliveries change nothing:

- clean: copy into the files store (create-only, source generation pinned) → finalize the
  record (``ready`` with its SHA-256, sniffed MIME type and log entry, in one transaction) →
  delete the landed generation → delete the ticket;
- infected: copy to quarantine (``{name}.{generation}``, the verdict in its metadata) → delete
  the landed generation → a new file's record becomes ``infected`` (an overwrite's live
  version stays ready) with a ``scan`` log entry → delete the ticket;
- unexpected (no ticket for that exact name, or a size other than the declared one):
  quarantined the same way with reason ``unexpected``, logged when a workspace is known;
- scanner unreachable or any transient error: raise, so the event is redelivered; the lock
  is released and the record stays ``pending``.

The scan itself is ``Scanner.scan_object``: in the cloud the ClamAV front reads the pinned
generation and answers its SHA-256 and MIME type with the verdict, so no byte of the object
passes through this function. Each step can be repeated: a retry after a crash recognises
its own copy, a record already finalized with this upload's key, and a quarantine copy of
this generation (when the landed object is already gone). Log entries of the scan have ids
derived from the generation, and are written once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.errors import Conflict
from shared.files.upload import STALE_UPLOAD_SECONDS
from shared.metadata.base import Doc, MetadataStore, new_log_id
from shared.models import BlobFacts, Finalization, LogEntry, LogQuery, ObjectRef
from shared.scanning.base import Scanner, Verdict, ingress
from shared.storage.base import BlobStore, LandingZone, ObjectInfo, blob_key
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.events import ObjectEvent
from shared.uploads.locks import EventLocks
from shared.uploads.tickets import TICKETS, Ticket, parse_incoming, ticket_key

log = logging.getLogger(__name__)

LEASE_SECONDS = 540  # the longest an event-driven function may run
REASON, SIGNATURE, DETAIL = "workspace-reason", "workspace-signature", "workspace-detail"


class Finalizer:
    """The finalize handler over the files store, the landing zone, metadata and scanner."""

    def __init__(self, settings: Settings, blobs: BlobStore, landing: LandingZone,
                 meta: MetadataStore, scanner: Scanner) -> None:
        self.settings = settings
        self.blobs = blobs
        self.landing = landing
        self.meta = meta
        self.scanner = scanner
        self.incoming = settings.incoming_gcs_bucket_name
        self.locks = EventLocks(meta, LEASE_SECONDS, settings.scan_event_max_age_seconds)
        self.retention_seconds = settings.file_retention_days * 86400

    # -- entry points -------------------------------------------------------------------
    def handle(self, event: ObjectEvent | None, now: datetime | None = None) -> str:
        """One delivered event: ignore others' buckets, drop stale events, else ``process``."""
        if event is None:
            log.info("ignored an event that is not an object finalize")
            return "ignored"
        if event.ref.bucket != self.incoming:
            log.info("ignored a finalize in bucket %s", event.ref.bucket)
            return "ignored"
        now = now or datetime.now(UTC)
        max_age = self.settings.scan_event_max_age_seconds
        if event.event_time is not None and (now - event.event_time).total_seconds() > max_age:
            log.warning("dropped a stale finalize event for %s (older than %d s)",
                        event.ref.id, max_age,
                        extra={"json_fields": {"event": "finalize_dead_letter"}})
            self._log_stale(event)
            return "stale"
        return self.process(event.ref)

    def process(self, ref: ObjectRef) -> str:
        """Scan and promote or quarantine one generation, exactly once; returns the outcome."""
        lock = self.locks.acquire(ref.id)
        if lock is None:
            log.info("duplicate event for %s: already done", ref.id)
            return "duplicate"
        try:
            outcome = self._process(ref)
        except BaseException as exc:
            self.locks.release(lock)
            log.warning("finalize of %s failed (%s); the event is redelivered", ref.id,
                        type(exc).__name__, extra={"json_fields": {"event": "finalize_retry",
                                               "error_class": type(exc).__name__}})
            raise
        self.locks.done(lock, outcome)
        log.info("scan_uploaded_file %s: %s", ref.id, outcome["outcome"])
        return str(outcome["outcome"])

    # -- the work -----------------------------------------------------------------------
    def _ticket(self, name: str) -> tuple[Ticket | None, Doc | None]:
        """The ticket that promised exactly this object name, with its doc."""
        parsed = parse_incoming(name)
        doc = self.meta.get_doc(TICKETS, ticket_key(*parsed)) if parsed else None
        ticket = Ticket.from_doc(doc) if doc is not None else None
        if ticket is None or ticket.incoming_name != name:
            return None, None  # none, or one for another name: not this object's
        return ticket, doc

    def _process(self, ref: ObjectRef) -> dict[str, Any]:
        ticket, doc = self._ticket(ref.name)
        obj = self.landing.info(ref.name, ref.generation)
        if obj is None:
            return self._resume(ref, ticket, doc)
        if ticket is None or doc is None:
            return self._unexpected(obj, None, None, "no reservation")
        if self._finalized_already(ticket):
            self._cleanup(obj, doc)
            return {"outcome": "ready", "file_id": ticket.file_id}
        if obj.size != ticket.size_bytes:
            return self._unexpected(obj, ticket, doc, "size differs from reservation")
        with ingress("direct_upload"):
            scan = self.scanner.scan_object(obj.ref, ticket.draft.filename, ticket.size_bytes)
        if scan.facts.size_bytes != ticket.size_bytes:
            return self._unexpected(obj, ticket, doc, "size differs from reservation")
        if scan.verdict.infected:
            return self._infected(obj, ticket, doc, scan.verdict, scan.facts.checksum)
        return self._promote(obj, ticket, doc, scan.facts, scan.verdict)

    def _file_key(self, ticket: Ticket) -> str:
        return blob_key(ticket.workspace_id, ticket.file_id, ticket.slot,
                        ticket.draft.filename)

    def _finalized_already(self, ticket: Ticket) -> bool:
        record = self.meta.get_file(ticket.workspace_id, ticket.file_id)
        return record is not None and record.storage_key == self._file_key(ticket)

    def _promote(self, obj: ObjectInfo, ticket: Ticket, doc: Doc, facts: BlobFacts,
                 verdict: Verdict) -> dict[str, Any]:
        key = self._file_key(ticket)
        # Intent first: a crash after the copy leaves a blob the purge removes, never a stray.
        self.meta.schedule_purge(key, plus_seconds(utcnow(), STALE_UPLOAD_SECONDS))
        self.landing.promote(obj, key)
        draft = ticket.draft
        entry = LogEntry(new_log_id(), utcnow(), "create" if ticket.is_new else "update",
                         "file", ticket.file_id, {
                             "filename": draft.filename, "description": draft.description,
                             "file_type": facts.file_type, "size_bytes": facts.size_bytes,
                             "path": draft.path, "checksum": facts.checksum,
                             "via": "upload_url",  # the store adds "version"
                             **({"api_key": ticket.api_key} if ticket.api_key else {})},
                         ticket.agent_id, ticket.task_id, ticket.session_id)
        outcome: dict[str, Any] = {"outcome": "ready", "file_id": ticket.file_id,
                                   "checksum": facts.checksum}
        done = Finalization(draft, ticket.reservation(), key, self.blobs.storage_path(key),
                            facts, ticket.expected_version, verdict.record(entry.timestamp))
        try:
            self.meta.finalize_file(ticket.workspace_id, done, entry, self.retention_seconds)
        except Conflict as refused:
            # Deleted while it was uploading, or another version landed first when this one
            # expected a version: the copy stays queued for purge, nothing new is live.
            stale = "current_version" in refused.extra
            outcome["outcome"] = "conflict" if stale else "deleted"
        self._cleanup(obj, doc)
        return outcome

    def _cleanup(self, obj: ObjectInfo | None, doc: Doc | None) -> None:
        if obj is not None:
            self.landing.delete(obj.ref)
        if doc is not None:
            self.meta.delete_doc(doc)

    def _infected(self, obj: ObjectInfo, ticket: Ticket, doc: Doc, verdict: Verdict,
                  checksum: str) -> dict[str, Any]:
        signature = verdict.signature or "unknown"
        where = self.landing.quarantine(obj, {REASON: "infected", SIGNATURE: signature})
        self.landing.delete(obj.ref)
        return self._record_infected(obj.ref, obj.size, where, ticket, doc, verdict, checksum)

    def _record_infected(self, ref: ObjectRef, size: int, where: str, ticket: Ticket,
                         doc: Doc | None, verdict: Verdict,
                         checksum: str | None = None) -> dict[str, Any]:
        signature = verdict.signature or "unknown"
        entry = self._scan_entry(ref, ticket.file_id, ticket, {
            "verdict": "infected", "signature": signature, "filename": ticket.draft.filename,
            "path": ticket.draft.path, "size_bytes": size, "slot": ticket.slot,
            "quarantine": where})
        details = verdict.record(entry.timestamp)
        marked = None
        if ticket.is_new:
            marked = self.meta.mark_infected(ticket.workspace_id, ticket.file_id, details, entry,
                                             checksum)
        if marked is None:  # an overwrite (the live version stays), or marked by a retry
            self._log_once(ticket.workspace_id, entry)
        log.warning("direct upload rejected: malware %s in workspace %s", signature,
                    ticket.workspace_id)
        if doc is not None:
            self.meta.delete_doc(doc)
        return {"outcome": "infected", "file_id": ticket.file_id, "signature": signature}

    def _unexpected(self, obj: ObjectInfo, ticket: Ticket | None, doc: Doc | None,
                    reason: str) -> dict[str, Any]:
        where = self.landing.quarantine(obj, {REASON: "unexpected", DETAIL: reason})
        self.landing.delete(obj.ref)
        return self._record_unexpected(obj.ref, obj.size, where, ticket, doc, reason)

    def _record_unexpected(self, ref: ObjectRef, size: int, where: str, ticket: Ticket | None,
                           doc: Doc | None, reason: str) -> dict[str, Any]:
        log.warning("quarantined unexpected object %s: %s", ref.id, reason)
        details: dict[str, Any] = {"verdict": "unexpected", "reason": reason,
                                   "size_bytes": size, "quarantine": where}
        parsed = parse_incoming(ref.name)
        if ticket is not None:
            details["declared_size"] = ticket.size_bytes
            entry = self._scan_entry(ref, ticket.file_id, ticket, details)
            self._log_once(ticket.workspace_id, entry)
            self.meta.release_reservation(ticket.workspace_id, ticket.reservation())
            if doc is not None:
                self.meta.delete_doc(doc)
        elif parsed is not None and self.meta.get_file(*parsed) is not None:
            # A known workspace (the id names a real record there): tell its owner.
            self._log_once(parsed[0], self._scan_entry(ref, parsed[1], None, details))
        return {"outcome": "unexpected", "reason": reason}

    def _resume(self, ref: ObjectRef, ticket: Ticket | None, doc: Doc | None) -> dict[str, Any]:
        """The landed generation is gone: finish what a crashed attempt started, if any."""
        copy = self.landing.quarantined(ref)
        if copy is None:
            return {"outcome": "gone"}  # replaced or removed before it was ours
        where = self.landing.location(copy)
        if copy.metadata.get(REASON) == "infected" and ticket is not None:
            verdict = Verdict(True, copy.metadata.get(SIGNATURE, "unknown"), copy.size)
            return self._record_infected(ref, copy.size, where, ticket, doc, verdict)
        return self._record_unexpected(ref, copy.size, where, ticket, doc,
                                       copy.metadata.get(DETAIL, "unexpected"))

    # -- log entries ----------------------------------------------------------------------
    @staticmethod
    def _scan_entry(ref: ObjectRef, file_id: str, ticket: Ticket | None,
                    details: dict[str, Any]) -> LogEntry:
        """A scan entry whose id comes from the generation: a retry writes the same one.

        Attributed to the agent, task and session that asked for the upload URL, when the
        ticket is still there to say so."""
        stable = "log_" + hashlib.sha256(ref.id.encode()).hexdigest()[:20]
        if ticket is None:
            return LogEntry(stable, utcnow(), "scan", "file", file_id, details, None, None)
        return LogEntry(stable, utcnow(), "scan", "file", file_id, details, ticket.agent_id,
                        ticket.task_id, ticket.session_id)

    def _log_once(self, workspace_id: str, entry: LogEntry) -> None:
        page = self.meta.list_logs(workspace_id, LogQuery(
            resource_id=entry.resource_id, operation_type="scan", limit=100))
        if all(existing.id != entry.id for existing in page.items):
            self.meta.append_log(workspace_id, entry)

    def _log_stale(self, event: ObjectEvent) -> None:
        ticket, _ = self._ticket(event.ref.name)
        if ticket is None:
            return
        self.meta.append_log(ticket.workspace_id, LogEntry(
            new_log_id(), utcnow(), "scan", "file", ticket.file_id,
            {"verdict": "dropped", "reason": "stale event",
             "generation": event.ref.generation}, ticket.agent_id, ticket.task_id,
            ticket.session_id))
