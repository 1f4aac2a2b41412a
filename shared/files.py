"""``FileService``: the workspace's file operations (upload, read, list, search, delete).

An upload runs as: stream the multipart body through ``Ingest`` (size cap, SHA-256, MIME
sniff, clamd, staging) → reserve the path and number → promote the staged blob → finalize
the record with its log entry. Each step undoes the ones before it on failure, so a
rejected upload leaves no record, no blob and no held path behind.

On a store that ``writes_in_place`` (GCS), the reservation moves before the bytes when the
fields sent ahead of the file part settle the path: the blob then streams straight to its
final key and promotion copies nothing. The record stays pending, so nothing can serve those
bytes before the verdict; an infected or failed upload deletes them and frees the path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from shared import validation as v
from shared.config import Settings
from shared.context import RequestContext
from shared.errors import (
    BackendUnavailable,
    BadRequest,
    Conflict,
    Infected,
    NotFound,
    PayloadTooLarge,
    WorkspaceError,
)
from shared.ingest import Ingest
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import (
    FILE_TYPES,
    BlobFacts,
    FileDraft,
    FileQuery,
    FileRecord,
    LogEntry,
    Page,
    Reservation,
    Workspace,
)
from shared.multipart import Form, read_form
from shared.routes import API_PREFIX
from shared.scanning.base import Scanner, Verdict
from shared.signing import UrlSigner
from shared.storage.base import BlobStore, blob_key
from shared.timeutil import plus_seconds, utcnow

log = logging.getLogger(__name__)

FORM_FIELDS = {"description", "tags", "created_by", "path", "overwrite", "session_id",
               "metadata", "filename"}
MULTIPART_OVERHEAD = 1024 * 1024
STALE_UPLOAD_SECONDS = 3600

_FIELD_CHECKS: dict[str, Callable[[str], object]] = {
    "description": v.check_description,
    "tags": lambda s: v.check_tags([s]),
    "created_by": lambda s: v.check_actor_id(s, "created_by"),
    "path": lambda s: v.check_path_prefix(s) if s.endswith("/") else v.check_virtual_path(s),
    "overwrite": lambda s: v.parse_bool(s, "overwrite"),
    "session_id": v.check_session_id,
    "metadata": v.check_metadata,
    "filename": v.check_filename,
}


def _check_field(name: str, value: str) -> None:
    if name not in FORM_FIELDS:
        raise v.BadRequest(f"unknown form field {name!r}")
    _FIELD_CHECKS[name](value)


@dataclass(frozen=True)
class Content:
    """An open file for download: the record and a stream the caller must close."""

    record: FileRecord
    stream: BinaryIO


@dataclass
class _Early:
    """An upload's reservation made before its bytes (see ``FileService._reserve_early``)."""

    reservation: Reservation | None = None
    draft: FileDraft | None = None
    overwrite: bool = False
    key: str | None = None
    ingest: Ingest | None = None

    def matches(self, draft: FileDraft, overwrite: bool) -> bool:
        """True when the final fields reserve the same thing (path, name, overwrite)."""
        return (self.draft is not None and self.draft.path == draft.path
                and self.draft.filename == draft.filename and self.overwrite == overwrite)


class FileService:
    """File operations for one deployment's backends."""

    def __init__(self, settings: Settings, blobs: BlobStore, meta: MetadataStore,
                 scanner: Scanner, signer: UrlSigner | None) -> None:
        self.settings = settings
        self.blobs = blobs
        self.meta = meta
        self.scanner = scanner
        self.signer = signer
        self.retention_seconds = settings.file_retention_days * 86400

    # -- helpers ----------------------------------------------------------------------
    def workspace(self, ctx: RequestContext) -> Workspace:
        """The caller's workspace, created on first use."""
        return self.meta.get_or_create_workspace(ctx.user_id)

    def _entry(self, ctx: RequestContext, op: str, resource_id: str | None,
               details: dict[str, object]) -> LogEntry:
        return LogEntry(new_log_id(), utcnow(), op, "file", resource_id, details,
                        ctx.agent_id, ctx.task_id)

    @staticmethod
    def _require_ready(record: FileRecord) -> FileRecord:
        if record.status != "ready":
            raise Conflict("file is not ready", status=record.status)
        return record

    def _live(self, ws: Workspace, file_id: str) -> FileRecord:
        record = self.meta.get_file(ws.id, v.check_file_id(file_id)) if file_id else None
        if record is None or record.is_deleted:
            raise NotFound("file not found")
        return record

    # -- upload -----------------------------------------------------------------------
    def upload(self, ctx: RequestContext, stream: BinaryIO, content_type: str | None,
               content_length: int | None) -> FileRecord:
        """Store a multipart upload (see the module docstring for the steps)."""
        limit = self.settings.max_file_size_bytes
        if content_length is not None and content_length > limit + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"file exceeds the {limit // (1024 * 1024)} MiB limit",
                                  max_bytes=limit)
        ws = self.workspace(ctx)
        holder: list[_Early] = []

        def open_sink(filename: str, _ctype: str | None, so_far: Form) -> Ingest:
            early = self._reserve_early(ctx, ws, filename, so_far)
            holder.append(early)
            try:
                early.ingest = Ingest(self.blobs, self.scanner, limit, key=early.key)
            except BaseException:
                self._release(ws, early)
                raise
            return early.ingest

        try:
            form = read_form(stream, content_type, "file", open_sink, _check_field,
                             max_total=limit + MULTIPART_OVERHEAD)
            early = holder[0]
            ingest = early.ingest
            assert ingest is not None
            draft, overwrite = self._draft(ctx, form.one, form.fields.get("tags", []),
                                           form.filename or "")
            verdict, facts = ingest.finish(draft.filename)
            self._refuse_infected(ctx, ws, draft, verdict, facts)
            reservation = early.reservation
            if reservation is not None and not early.matches(draft, overwrite):
                self._release(ws, early)  # later fields moved it: reserve again, then copy
                reservation = None
            early.reservation = None  # from here on _commit owns (and undoes) it
            return self._commit(ctx, ws, draft, overwrite, ingest, facts, reservation)
        finally:
            for early in holder:
                self._release(ws, early)
                if early.ingest is not None:
                    early.ingest.discard()

    def _refuse_infected(self, ctx: RequestContext, ws: Workspace, draft: FileDraft,
                         verdict: Verdict, facts: BlobFacts) -> None:
        """Raise ``Infected`` (after logging the scan) when the verdict found malware."""
        if not verdict.infected:
            return
        signature = verdict.signature or "unknown"
        self.meta.append_log(ws.id, self._entry(ctx, "scan", None, {
            "verdict": "infected", "signature": signature, "filename": draft.filename,
            "path": draft.path, "size_bytes": facts.size_bytes}))
        log.warning("upload rejected: malware %s in workspace %s", signature, ws.id)
        raise Infected(signature)

    def _reserve_early(self, ctx: RequestContext, ws: Workspace, filename: str,
                       so_far: Form) -> _Early:
        """Reserve the path before the bytes when the fields seen so far settle it.

        Only for a store that ``writes_in_place``: the blob then streams straight to its final
        key (one write, no copy). The purge intent is written before the first byte, so a
        crash mid-upload leaves nothing the sweep does not remove. When the fields do not
        settle it yet (invalid so far, or the path is taken and a later field may move it),
        the upload is staged and reserved at the end, as before.
        """
        if not self.blobs.writes_in_place:
            return _Early()
        try:
            draft, overwrite = self._draft(ctx, so_far.one, so_far.fields.get("tags", []),
                                           filename)
            reservation = self.meta.reserve_file(ws.id, draft, overwrite)
        except (BadRequest, Conflict):
            return _Early()
        early = _Early(reservation=reservation, draft=draft, overwrite=overwrite)
        early.key = blob_key(ws.id, reservation.file_id, reservation.version, draft.filename)
        try:
            self.meta.schedule_purge(early.key, plus_seconds(utcnow(), STALE_UPLOAD_SECONDS))
        except BaseException:
            self._release(ws, early)
            raise
        return early

    def _release(self, ws: Workspace, early: _Early) -> None:
        """Free an early reservation that will not be used; the sweep retries what fails."""
        if early.reservation is not None:
            reservation, early.reservation = early.reservation, None
            with contextlib.suppress(WorkspaceError):
                self.meta.release_reservation(ws.id, reservation)

    def write_stream(self, ctx: RequestContext, stream: BinaryIO, filename: str,
                     session_id: str | None = None, description: str = "") -> FileRecord:
        """Store bytes from an in-process caller (the media pipeline) the way an upload is
        stored: the same ``Ingest`` (cap, hash, sniff, scan), path rules and commit. The file
        goes to ``/sessions/{session_id}/{filename}`` (or ``/{filename}``); a taken path is a
        409, never an overwrite."""
        ws = self.workspace(ctx)
        ingest = Ingest(self.blobs, self.scanner, self.settings.max_file_size_bytes)
        try:
            while chunk := stream.read(1024 * 1024):
                ingest.write(chunk)
            fields = {"filename": filename, "session_id": session_id,
                      "description": description}
            draft, _ = self._draft(ctx, fields.get, [], filename)
            verdict, facts = ingest.finish(draft.filename)
            self._refuse_infected(ctx, ws, draft, verdict, facts)
            return self._commit(ctx, ws, draft, False, ingest, facts)
        finally:
            ingest.discard()

    def draft(self, ctx: RequestContext, one: Callable[[str], str | None], tags: list[str],
              filename: str) -> tuple[FileDraft, bool]:
        """Check upload fields (``one(name)`` gives a field's text) into a draft + overwrite."""
        return self._draft(ctx, one, tags, filename)

    def _draft(self, ctx: RequestContext, one: Callable[[str], str | None], tags: list[str],
               part_filename: str) -> tuple[FileDraft, bool]:
        filename = v.check_filename(one("filename") or part_filename)
        session_id = one("session_id") or ctx.session_id
        raw_path = one("path")
        if raw_path is None:
            folder = f"/sessions/{session_id}/" if session_id else "/"
            path = v.check_virtual_path(folder + filename)
        elif raw_path.endswith("/"):
            path = v.check_virtual_path(v.check_path_prefix(raw_path) + filename)
        else:
            path = v.check_virtual_path(raw_path)
        draft = FileDraft(
            filename=filename,
            path=path,
            session_id=session_id,
            description=v.check_description(one("description") or ""),
            tags=v.check_tags(tags),
            created_by=v.check_actor_id(one("created_by"), "created_by") or ctx.agent_id,
            metadata=v.check_metadata(one("metadata")),
        )
        return draft, v.parse_bool(one("overwrite"), "overwrite")

    def _commit(self, ctx: RequestContext, ws: Workspace, draft: FileDraft, overwrite: bool,
                ingest: Ingest, facts: BlobFacts,
                reservation: Reservation | None = None) -> FileRecord:
        """Reserve (unless reserved early), promote and finalize; undo all of it on failure."""
        early = reservation is not None
        if reservation is None:
            reservation = self.meta.reserve_file(ws.id, draft, overwrite)
        key = blob_key(ws.id, reservation.file_id, reservation.version, draft.filename)
        promoted = False
        try:
            if not early:  # an early reservation wrote its intent before the first byte
                self.meta.schedule_purge(key, plus_seconds(utcnow(), STALE_UPLOAD_SECONDS))
            self.blobs.promote(ingest.staged, key)
            promoted = True
            op = "create" if reservation.is_new else "update"
            entry = self._entry(ctx, op, reservation.file_id, {
                "filename": draft.filename, "description": draft.description,
                "file_type": facts.file_type, "size_bytes": facts.size_bytes,
                "path": draft.path, "version": reservation.version,
                "checksum": facts.checksum})
            record, _orphan = self.meta.finalize_file(
                ws.id, draft, reservation, key, self.blobs.storage_path(key),
                facts, entry, self.retention_seconds)
            return record
        except BaseException as exc:
            landed = self._landed(ws, reservation.file_id, key) if promoted else None
            if landed is not None:
                return landed  # the commit applied though its answer was lost
            # A metadata outage leaves the commit's outcome unknown: a write that timed out
            # here may still apply later (a stalled backend catching up). Deleting the blob
            # then would leave a ready record pointing at nothing, so it stays, and its purge
            # intent deletes it once due, unless a commit that landed removed that intent.
            # Any other failure is definite: undo now. What cannot be undone is the sweep's.
            unknown = isinstance(exc, BackendUnavailable)
            with contextlib.suppress(WorkspaceError):
                if promoted and not unknown:
                    self.blobs.delete(key)
            with contextlib.suppress(WorkspaceError):
                self.meta.release_reservation(ws.id, reservation)
            raise

    def _landed(self, ws: Workspace, file_id: str, key: str) -> FileRecord | None:
        """The record when a finalize that raised (a deadline) committed after all."""
        try:
            record = self.meta.get_file(ws.id, file_id)
        except WorkspaceError:
            return None
        ready = record is not None and record.status == "ready" and not record.is_deleted
        return record if ready and record.storage_key == key else None

    # -- reads ------------------------------------------------------------------------
    def get(self, ctx: RequestContext, file_id: str) -> FileRecord:
        """A live file's metadata; 404 for unknown, deleted or other users' ids."""
        return self._live(self.workspace(ctx), file_id)

    def open_content(self, ctx: RequestContext, file_id: str, via: str = "api") -> Content:
        """The bytes of a ready file, logged as a read; 409 while not ready."""
        ws = self.workspace(ctx)
        return self._open(ctx, ws, self._live(ws, file_id), via=via)

    def open_path(self, ctx: RequestContext, path: str, via: str = "api") -> Content:
        """Like ``open_content``, for the live file at a virtual path."""
        ws = self.workspace(ctx)
        record = self.meta.get_file_by_path(ws.id, v.check_virtual_path(path))
        if record is None or record.is_deleted:
            raise NotFound("file not found")
        return self._open(ctx, ws, record, via=via)

    def _log_read(self, ctx: RequestContext, ws: Workspace, record: FileRecord,
                  via: str) -> None:
        self.meta.append_log(ws.id, self._entry(ctx, "read", record.id, {
            "filename": record.filename, "size_bytes": record.size_bytes,
            "version": record.version, "via": via}))

    def _open(self, ctx: RequestContext, ws: Workspace, record: FileRecord, via: str) -> Content:
        self._require_ready(record)
        stream = self.blobs.open_read(record.storage_key)
        try:
            self._log_read(ctx, ws, record, via)
        except BaseException:
            stream.close()
            raise
        return Content(record, stream)

    @property
    def redirects_downloads(self) -> bool:
        """True when content is best fetched from the blob store's own signed URL (GCS)."""
        return self.blobs.supports_signed_urls

    def download_link(self, ctx: RequestContext, file_id: str, base_url: str,
                      inline: bool = False) -> tuple[str, int]:
        """A short-lived URL that serves the file without a bearer token, and its expiry.

        GCS issues a V4 signed URL; the local store an HMAC-signed link to
        ``/files/<id>/signed``. Issuing a link is the logged read, on every backend, since
        a GCS download never passes through the service.
        """
        ws = self.workspace(ctx)
        record = self._require_ready(self._live(ws, file_id))
        ttl = self.settings.download_url_ttl_seconds
        if self.blobs.supports_signed_urls:
            url, expires = self.blobs.signed_download_url(
                record.storage_key, record.filename, record.mime_type, ttl)
        else:
            assert self.signer is not None, "signed links need a signer"
            query, expires = self.signer.sign(ws.id, record.id, record.version, ttl)
            url = f"{base_url}{API_PREFIX}/files/{record.id}/signed?{query}"
            url += "&inline=true" if inline else ""
        self._log_read(ctx, ws, record, "signed_url")
        return url, expires

    def open_signed(self, file_id: str, params: dict[str, str]) -> Content:
        """Serve a local signed link without a bearer token (the signature is the credential).

        The read was logged when the link was issued, so serving it logs nothing more.
        """
        assert self.signer is not None, "signed links need a signer"
        ws_id = params.get("ws", "")
        version = self.signer.verify(ws_id, file_id, params.get("v", ""),
                                     params.get("expires", ""), params.get("sig", ""))
        record = self.meta.get_file(ws_id, v.check_file_id(file_id))
        if record is None or record.is_deleted or record.version != version:
            raise NotFound("invalid or expired link")
        return Content(record, self.blobs.open_read(self._require_ready(record).storage_key))

    def list(self, ctx: RequestContext, query: FileQuery) -> Page[FileRecord]:
        """One page of live files matching every filter."""
        return self.meta.list_files(self.workspace(ctx).id, query)

    def count(self, ctx: RequestContext, query: FileQuery) -> int:
        """How many live files match."""
        return self.meta.count_files(self.workspace(ctx).id, query)

    def search(self, ctx: RequestContext, query: str, file_type: str | None,
               limit: int) -> list[FileRecord]:
        """Ranked search over filename, description and tags."""
        return self.meta.search_files(self.workspace(ctx).id, v.check_query(query),
                                      v.check_choice(file_type, FILE_TYPES, "file_type"), limit)

    # -- delete -----------------------------------------------------------------------
    def delete(self, ctx: RequestContext, file_id: str) -> FileRecord:
        """Soft-delete: the path is free at once; the blob is purged after retention."""
        ws = self.workspace(ctx)
        record = self._live(ws, file_id)
        entry = self._entry(ctx, "delete", record.id, {
            "filename": record.filename, "path": record.path, "version": record.version})
        return self.meta.delete_file(ws.id, record.id, entry, self.retention_seconds)

    # -- maintenance ------------------------------------------------------------------
    def purge(self, batch: int = 500) -> int:
        """Delete blobs whose retention ran out; returns how many were removed."""
        keys = self.meta.due_purges(utcnow(), batch)
        for key in keys:
            self.blobs.delete(key)
        if keys:
            self.meta.mark_purged(keys)
        return len(keys)

    def sweep(self, stale_after_seconds: int = STALE_UPLOAD_SECONDS,
              keep: Callable[[str, Reservation], bool] | None = None) -> dict[str, int]:
        """Clean up after crashes: due blobs, staging leftovers, abandoned reservations.

        An upload that died between reserving its path and finalizing (process killed)
        leaves a pending record holding the path; after ``stale_after_seconds`` it is
        released, unless ``keep(workspace_id, reservation)`` says another owner (a direct
        upload's ticket) still answers for it. Staging files that old belong to no live
        request.
        """
        released = 0
        cutoff = plus_seconds(utcnow(), -stale_after_seconds)
        for workspace_id, reservation in self.meta.stale_reservations(cutoff, 500):
            if keep is not None and keep(workspace_id, reservation):
                continue
            self.meta.release_reservation(workspace_id, reservation)
            released += 1
        return {
            "purged_blobs": self.purge(),
            "staging_removed": self.blobs.sweep_staging(stale_after_seconds),
            "reservations_released": released,
        }
