"""``ScanUploads``: what a finalized object in the incoming bucket becomes.

``handle`` takes an ``ObjectEvent`` (either envelope, see ``shared.scan_events``); ``process``
does the work for one ``bucket/name#generation`` and is also what the reconciliation sweep
re-drives. Every step is pinned to that generation, and a ``Claims`` doc keyed by it makes
duplicate and late deliveries change nothing:

- clean: copy to the files bucket (create-only, source generation pinned) → ``finalize_file``
  (record ``ready`` with its SHA-256, sniffed MIME type and log entry, in one transaction) →
  delete the incoming generation → delete the ticket;
- infected: copy to the quarantine bucket (``{name}.{generation}``, the verdict in its
  metadata) → delete the incoming generation → a new file's record becomes ``infected`` (an
  overwrite's live version stays ready) with a ``scan`` log entry → delete the ticket;
- unexpected (no ticket for that exact name, or a size other than the declared one):
  quarantined the same way with reason ``unexpected``, logged when a workspace is known;
- scanner unreachable or any transient error: raise, so the event is redelivered; the claim
  is released and the record stays ``pending``.

Each step can be repeated: a retry after a crash recognises its own copy (``GcsObjects.copy``),
a record already finalized with this upload's key, and a quarantine copy carrying this
generation's verdict (when the incoming object is already gone). Log entries of the scan have
ids derived from the generation, and are written once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from shared.claims import Claims
from shared.config import Settings
from shared.errors import Conflict
from shared.files import STALE_UPLOAD_SECONDS
from shared.ingest import Digest
from shared.metadata.base import Doc, MetadataStore, new_log_id
from shared.models import BlobFacts, LogEntry, LogQuery
from shared.scan_events import ObjectEvent
from shared.scanning.base import Scanner, Verdict
from shared.storage.base import blob_key
from shared.storage.gcs import GcsBlobStore
from shared.storage.gcs_objects import SOURCE_META, GcsObjects, ObjectInfo, source_id
from shared.tickets import TICKETS, Ticket, parse_incoming, ticket_key
from shared.timeutil import plus_seconds, utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 540  # the longest an event-driven function may run
REASON, SIGNATURE = "workspace-reason", "workspace-signature"


def scan_object(objects: GcsObjects, scanner: Scanner, obj: ObjectInfo,
                filename: str) -> tuple[Verdict, BlobFacts]:
    """Scan exactly ``obj.generation`` and learn its SHA-256 and MIME type in the same pass.

    Streams the object through a ``Digest`` (memory bounded by the chunk size), the same
    one inline uploads use. Raises ``ScannerUnavailable`` when the scanner cannot give a
    verdict.
    """
    digest = Digest(scanner, max_bytes=obj.size)
    try:
        for chunk in objects.chunks(obj):
            digest.write(chunk)
        return digest.finish(filename)
    finally:
        digest.abort()


def quarantine_name(obj: ObjectInfo) -> str:
    """The incoming name plus the generation, so repeated PUTs never collide."""
    return f"{obj.name}.{obj.generation}"


class ScanUploads:
    """The finalize handler over the files store, the metadata store and the scanner."""

    def __init__(self, settings: Settings, store: GcsBlobStore, meta: MetadataStore,
                 scanner: Scanner, objects: GcsObjects) -> None:
        self.settings = settings
        self.store = store
        self.meta = meta
        self.scanner = scanner
        self.objects = objects
        self.incoming = settings.incoming_gcs_bucket_name
        self.quarantine = settings.quarantine_gcs_bucket_name
        self.claims = Claims(meta, LEASE_SECONDS, settings.scan_event_max_age_seconds)
        self.retention_seconds = settings.file_retention_days * 86400

    # -- entry points -------------------------------------------------------------------
    def handle(self, event: ObjectEvent | None, now: datetime | None = None) -> str:
        """One delivered event: ignore others' buckets, drop stale events, else ``process``."""
        if event is None:
            log.info("ignored an event that is not an object finalize")
            return "ignored"
        if event.bucket != self.incoming:
            log.info("ignored a finalize in bucket %s", event.bucket)
            return "ignored"
        now = now or datetime.now(UTC)
        max_age = self.settings.scan_event_max_age_seconds
        if event.event_time is not None and (now - event.event_time).total_seconds() > max_age:
            log.warning("dropped a stale finalize event for %s (older than %d s)",
                        source_id(event.bucket, event.name, event.generation), max_age)
            self._log_stale(event)
            return "stale"
        return self.process(event.bucket, event.name, event.generation)

    def process(self, bucket: str, name: str, generation: int) -> str:
        """Scan and promote or quarantine one generation, exactly once; returns the outcome."""
        key = source_id(bucket, name, generation)
        claim = self.claims.acquire(key)
        if claim is None:
            log.info("duplicate event for %s: already done", key)
            return "duplicate"
        try:
            outcome = self._process(bucket, name, generation)
        except BaseException:
            self.claims.release(claim)
            raise
        self.claims.done(claim, outcome)
        log.info("scan_uploaded_file %s: %s", key, outcome["outcome"])
        return str(outcome["outcome"])

    # -- the work -----------------------------------------------------------------------
    def _process(self, bucket: str, name: str, generation: int) -> dict[str, Any]:
        parsed = parse_incoming(name)
        doc = self.meta.get_doc(TICKETS, ticket_key(*parsed)) if parsed else None
        ticket = Ticket.from_doc(doc) if doc is not None else None
        if ticket is not None and ticket.incoming_name != name:
            ticket, doc = None, None  # the ticket is for another name: not this object's
        obj = self.objects.info(bucket, name, generation)
        if obj is None:
            return self._resume(bucket, name, generation, parsed, ticket, doc)
        if ticket is None or doc is None:
            return self._unexpected(obj, parsed, None, None, "no reservation")
        if self._finalized_already(ticket):
            self._cleanup(obj, doc)
            return {"outcome": "ready", "file_id": ticket.file_id}
        if obj.size != ticket.size_bytes:
            return self._unexpected(obj, parsed, ticket, doc, "size differs from reservation")
        verdict, facts = scan_object(self.objects, self.scanner, obj, ticket.draft.filename)
        if facts.size_bytes != ticket.size_bytes:
            return self._unexpected(obj, parsed, ticket, doc, "size differs from reservation")
        if verdict.infected:
            return self._infected(obj, ticket, doc, verdict.signature or "unknown")
        return self._promote(obj, ticket, doc, facts)

    def _file_key(self, ticket: Ticket) -> str:
        return blob_key(ticket.workspace_id, ticket.file_id, ticket.version,
                        ticket.draft.filename)

    def _finalized_already(self, ticket: Ticket) -> bool:
        record = self.meta.get_file(ticket.workspace_id, ticket.file_id)
        return record is not None and record.storage_key == self._file_key(ticket)

    def _promote(self, obj: ObjectInfo, ticket: Ticket, doc: Doc,
                 facts: BlobFacts) -> dict[str, Any]:
        key = self._file_key(ticket)
        # Intent first: a crash after the copy leaves a blob the purge removes, never a stray.
        self.meta.schedule_purge(key, plus_seconds(utcnow(), STALE_UPLOAD_SECONDS))
        self.objects.copy(obj, self.store.bucket_name, self.store.object_name(key))
        draft = ticket.draft
        entry = LogEntry(new_log_id(), utcnow(), "create" if ticket.is_new else "update",
                         "file", ticket.file_id, {
                             "filename": draft.filename, "description": draft.description,
                             "file_type": facts.file_type, "size_bytes": facts.size_bytes,
                             "path": draft.path, "version": ticket.version,
                             "checksum": facts.checksum, "via": "upload_url"},
                         ticket.agent_id, ticket.task_id)
        outcome: dict[str, Any] = {"outcome": "ready", "file_id": ticket.file_id,
                                   "checksum": facts.checksum}
        try:
            self.meta.finalize_file(ticket.workspace_id, draft, ticket.reservation(), key,
                                    self.store.storage_path(key), facts, entry,
                                    self.retention_seconds)
        except Conflict:
            # Deleted while it was uploading: the copy stays queued for purge, nothing is live.
            outcome["outcome"] = "deleted"
        self._cleanup(obj, doc)
        return outcome

    def _cleanup(self, obj: ObjectInfo | None, doc: Doc | None) -> None:
        if obj is not None:
            self.objects.delete(obj)
        if doc is not None:
            self.meta.delete_doc(doc)

    def _infected(self, obj: ObjectInfo, ticket: Ticket, doc: Doc,
                  signature: str) -> dict[str, Any]:
        self.objects.copy(obj, self.quarantine, quarantine_name(obj),
                          {REASON: "infected", SIGNATURE: signature})
        self.objects.delete(obj)
        return self._record_infected(obj.bucket, obj.name, obj.generation, obj.size, ticket,
                                     doc, signature)

    def _record_infected(self, bucket: str, name: str, generation: int, size: int,
                         ticket: Ticket, doc: Doc | None, signature: str) -> dict[str, Any]:
        key = source_id(bucket, name, generation)
        entry = self._scan_entry(key, ticket.file_id, ticket.agent_id, ticket.task_id, {
            "verdict": "infected", "signature": signature, "filename": ticket.draft.filename,
            "path": ticket.draft.path, "size_bytes": size, "version": ticket.version,
            "quarantine": f"gcs://{self.quarantine}/{name}.{generation}"})
        details = {"verdict": "infected", "signature": signature, "scanned_at": entry.timestamp}
        marked = None
        if ticket.is_new:
            marked = self.meta.mark_infected(ticket.workspace_id, ticket.file_id, details, entry)
        if marked is None:  # an overwrite (the live version stays), or marked by a retry
            self._log_once(ticket.workspace_id, entry)
        log.warning("direct upload rejected: malware %s in workspace %s", signature,
                    ticket.workspace_id)
        if doc is not None:
            self.meta.delete_doc(doc)
        return {"outcome": "infected", "file_id": ticket.file_id, "signature": signature}

    def _unexpected(self, obj: ObjectInfo, parsed: tuple[str, str] | None,
                    ticket: Ticket | None, doc: Doc | None, reason: str) -> dict[str, Any]:
        self.objects.copy(obj, self.quarantine, quarantine_name(obj),
                          {REASON: "unexpected", "workspace-detail": reason})
        self.objects.delete(obj)
        return self._record_unexpected(obj.bucket, obj.name, obj.generation, obj.size, parsed,
                                       ticket, doc, reason)

    def _record_unexpected(self, bucket: str, name: str, generation: int, size: int,
                           parsed: tuple[str, str] | None, ticket: Ticket | None,
                           doc: Doc | None, reason: str) -> dict[str, Any]:
        key = source_id(bucket, name, generation)
        log.warning("quarantined unexpected object %s: %s", key, reason)
        details: dict[str, Any] = {"verdict": "unexpected", "reason": reason,
                                   "size_bytes": size,
                                   "quarantine": f"gcs://{self.quarantine}/{name}.{generation}"}
        if ticket is not None:
            details["declared_size"] = ticket.size_bytes
            entry = self._scan_entry(key, ticket.file_id, ticket.agent_id, ticket.task_id,
                                     details)
            self._log_once(ticket.workspace_id, entry)
            self.meta.release_reservation(ticket.workspace_id, ticket.reservation())
            if doc is not None:
                self.meta.delete_doc(doc)
        elif parsed is not None and self.meta.get_file(*parsed) is not None:
            # A known workspace (the id names a real record there): tell its owner.
            self._log_once(parsed[0], self._scan_entry(key, parsed[1], None, None, details))
        return {"outcome": "unexpected", "reason": reason}

    def _resume(self, bucket: str, name: str, generation: int,
                parsed: tuple[str, str] | None, ticket: Ticket | None,
                doc: Doc | None) -> dict[str, Any]:
        """The incoming generation is gone: finish what a crashed attempt started, if any."""
        key = source_id(bucket, name, generation)
        copy = self.objects.info(self.quarantine, f"{name}.{generation}")
        meta = copy.metadata if copy is not None else {}
        if copy is None or meta.get(SOURCE_META) != key:
            return {"outcome": "gone"}  # replaced or removed before it was ours
        if meta.get(REASON) == "infected" and ticket is not None:
            return self._record_infected(bucket, name, generation, copy.size, ticket, doc,
                                         meta.get(SIGNATURE, "unknown"))
        return self._record_unexpected(bucket, name, generation, copy.size, parsed, ticket,
                                       doc, meta.get("workspace-detail", "unexpected"))

    # -- log entries ----------------------------------------------------------------------
    @staticmethod
    def _scan_entry(key: str, file_id: str, agent_id: str | None, task_id: str | None,
                    details: dict[str, Any]) -> LogEntry:
        """A scan entry whose id comes from the generation: a retry writes the same one."""
        stable = "log_" + hashlib.sha256(key.encode()).hexdigest()[:20]
        return LogEntry(stable, utcnow(), "scan", "file", file_id, details, agent_id, task_id)

    def _log_once(self, workspace_id: str, entry: LogEntry) -> None:
        page = self.meta.list_logs(workspace_id, LogQuery(
            resource_id=entry.resource_id, operation_type="scan", limit=100))
        if all(existing.id != entry.id for existing in page.items):
            self.meta.append_log(workspace_id, entry)

    def _log_stale(self, event: ObjectEvent) -> None:
        parsed = parse_incoming(event.name)
        doc = self.meta.get_doc(TICKETS, ticket_key(*parsed)) if parsed else None
        if doc is None:
            return
        ticket = Ticket.from_doc(doc)
        self.meta.append_log(ticket.workspace_id, LogEntry(
            new_log_id(), utcnow(), "scan", "file", ticket.file_id,
            {"verdict": "dropped", "reason": "stale event",
             "generation": event.generation}, ticket.agent_id, ticket.task_id))
