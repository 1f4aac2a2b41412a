"""``Rescans``: scan a stored file's live version again, pinned to what is stored.

``POST /files/{id}/rescan`` and the rescan job both come here. The bytes are scanned where
they are (GCS: the front reads the exact generation, ``Scanner.scan_object``; local disk:
streamed through a ``Digest``), with the scanner's current signatures; the new scan record,
the status, the log entry and the event then commit together (``record_rescan``): clean
leaves the file ready (``rescanned``); infected makes it ``infected`` (``infected``: its
content is refused from then on) and moves its blob to quarantine. The record is written
before the blob moves, so no request is served the bytes once the verdict is known; a blob
that could not be moved stays unserved and the failure is logged.
"""

from __future__ import annotations

import logging

from shared.context import RequestContext
from shared.errors import Conflict, NotFound, WorkspaceError
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import FileRecord, LogEntry, ObjectRef
from shared.scanning.base import SCAN_READ_BYTES, Scanner, Verdict, ingress
from shared.scanning.digest import Digest
from shared.storage.base import BlobStore
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


class Rescans:
    """Rescans over one deployment's blob store, metadata store and scanner."""

    def __init__(self, blobs: BlobStore, meta: MetadataStore, scanner: Scanner,
                 max_bytes: int) -> None:
        self.blobs = blobs
        self.meta = meta
        self.scanner = scanner
        self.max_bytes = max_bytes

    def rescan_file(self, ctx: RequestContext, file_id: str) -> FileRecord:
        """Rescan a live file of the caller's (404 otherwise; 409 unless it is ready)."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        record = self.meta.get_file(ws.id, file_id)
        if record is None or record.is_deleted:
            raise NotFound("file not found")
        if record.status != "ready":
            raise Conflict("only a ready file can be rescanned", status=record.status)
        done = self.rescan(record, ctx.agent_id, ctx.task_id, ctx.session_id,
                           ctx.log_details({}))
        if done is None:
            raise Conflict("the file changed during the rescan; try again")
        return done

    def rescan(self, record: FileRecord, agent_id: str | None = None,
               task_id: str | None = None, session_id: str | None = None,
               details: dict[str, object] | None = None) -> FileRecord | None:
        """Scan ``record``'s live version now and record the verdict; None when the file
        changed meanwhile (nothing recorded). ``ScannerUnavailable`` without a verdict."""
        ref = self.blobs.pinned(record.storage_key)
        verdict = self._scan(record, ref)
        scan = verdict.record(utcnow())
        entry = LogEntry(new_log_id(), utcnow(), "scan", "file", record.id, {
            **(details or {}), "rescan": True, "version": record.version,
            **{k: v for k, v in scan.items() if k != "scanned_at"}},
            agent_id, task_id, session_id)
        done = self.meta.record_rescan(record.workspace_id, record, scan, entry)
        if done is not None and verdict.infected:
            self._quarantine(record, ref, verdict)
        return done

    def _scan(self, record: FileRecord, ref: ObjectRef | None) -> Verdict:
        with ingress("rescan"):
            if ref is not None:
                return self.scanner.scan_object(ref, record.filename, self.max_bytes).verdict
            with self.blobs.open_read(record.storage_key) as stream:
                digest = Digest(self.scanner, self.max_bytes)
                try:
                    while chunk := stream.read(SCAN_READ_BYTES):
                        digest.write(chunk)
                    return digest.finish(record.filename)[0]
                finally:
                    digest.abort()

    def _quarantine(self, record: FileRecord, ref: ObjectRef | None, verdict: Verdict) -> None:
        try:
            where = self.blobs.quarantine(
                record.storage_key, ref.generation if ref else None,
                {"workspace-reason": "rescan", "workspace-signature": verdict.signature or ""})
        except WorkspaceError as exc:
            log.error("rescan: %s in workspace %s is infected but its blob could not be "
                      "quarantined (%s); it is not served", record.id, record.workspace_id,
                      exc.message)
            return
        log.warning("rescan: %s in workspace %s is infected (%s); moved to %s", record.id,
                    record.workspace_id, verdict.signature, where)
