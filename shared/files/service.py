"""``FileService``: the workspace's file operations (upload, read, list, search, delete).

Uploads whose bytes pass through the service run as an ``InlineUpload`` (``upload.py`` has
the steps); direct uploads to a signed URL are ``shared.uploads``. Reads serve only ``ready``
files, and every read is logged. Deletes are soft: the path is free at once and the blob is
purged after ``FILE_RETENTION_DAYS`` (``maintenance.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import BinaryIO

from shared import mime
from shared import validation as v
from shared.config import Settings
from shared.context import RequestContext
from shared.errors import Conflict, NotFound, PayloadTooLarge
from shared.files.drafts import FormFields, UploadFields
from shared.files.multipart import READ_CHUNK, read_form
from shared.files.upload import InlineUpload, UploadStores, file_entry
from shared.metadata.base import MetadataStore
from shared.models import FILE_TYPES, FileQuery, FileRecord, Hits, Page, Workspace
from shared.queries import SearchQuery, session_folder
from shared.quota import Quota
from shared.routes import API_PREFIX
from shared.scanning.base import Scanner, ingress
from shared.signing import UrlSigner
from shared.storage.base import BlobStore
from shared.timeutil import plus_seconds, utcnow

MULTIPART_OVERHEAD = 1024 * 1024


@dataclass(frozen=True)
class Content:
    """An open file for download: the record and a stream the caller must close."""

    record: FileRecord
    stream: BinaryIO


class FileService:
    """File operations for one deployment's backends."""

    def __init__(self, settings: Settings, blobs: BlobStore, meta: MetadataStore,
                 scanner: Scanner, signer: UrlSigner | None, quota: Quota) -> None:
        self.settings = settings
        self.blobs = blobs
        self.meta = meta
        self.signer = signer
        self.retention_seconds = settings.file_retention_days * 86400
        self.stores = UploadStores(blobs, meta, scanner, settings.max_file_size_bytes,
                                   self.retention_seconds, quota)

    # -- helpers ----------------------------------------------------------------------
    def workspace(self, ctx: RequestContext) -> Workspace:
        """The caller's workspace, created on first use."""
        return self.meta.get_or_create_workspace(ctx.user_id)

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

    # -- uploads ----------------------------------------------------------------------
    def upload(self, ctx: RequestContext, stream: BinaryIO, content_type: str | None,
               content_length: int | None) -> FileRecord:
        """Store a multipart upload (``InlineUpload`` has the steps)."""
        limit = self.settings.max_file_size_bytes
        if content_length is not None and content_length > limit + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"file exceeds the {limit // (1024 * 1024)} MiB limit",
                                  max_bytes=limit)
        upload = InlineUpload(self.stores, ctx, self.workspace(ctx))
        try:
            read_form(stream, content_type, "file", upload, max_total=limit + MULTIPART_OVERHEAD)
            with ingress("upload"):
                return upload.finish()
        finally:
            upload.close()

    def write_stream(self, ctx: RequestContext, stream: BinaryIO, filename: str,
                     session_id: str | None = None, description: str = "") -> FileRecord:
        """Store bytes from an in-process caller (the media pipeline) the way an upload is
        stored: the same ``InlineUpload`` (cap, hash, sniff, scan, commit). The file goes to
        ``/sessions/{session_id}/{filename}`` (or ``/{filename}``); a taken path is a 409,
        never an overwrite."""
        form = FormFields()
        form.fields = UploadFields(filename=v.check_filename(filename),
                                   description=v.check_description(description),
                                   session_id=v.check_session_id(session_id)
                                   if session_id else None)
        upload = InlineUpload(self.stores, ctx, self.workspace(ctx), form)
        try:
            upload.file_start(filename)
            while chunk := stream.read(READ_CHUNK):
                upload.file_data(chunk)
            return upload.finish()
        finally:
            upload.close()

    def rewrite(self, ctx: RequestContext, record: FileRecord, stream: BinaryIO,
                expected_version: int) -> FileRecord:
        """Store ``stream`` as the next version of ``record`` (same path, description, tags
        and metadata), as an upload is stored; 409 unless ``expected_version`` is live."""
        form = FormFields()
        form.fields = UploadFields(filename=record.filename, path=record.path,
                                   description=record.description, tags=record.tags,
                                   created_by=record.created_by, metadata=record.metadata,
                                   session_id=record.session_id, overwrite=True,
                                   expected_version=expected_version)
        upload = InlineUpload(self.stores, ctx, self.workspace(ctx), form)
        try:
            upload.file_start(record.filename)
            while chunk := stream.read(READ_CHUNK):
                upload.file_data(chunk)
            with ingress("restore_version"):
                return upload.finish()
        finally:
            upload.close()

    # -- reads ------------------------------------------------------------------------
    def get(self, ctx: RequestContext, file_id: str) -> FileRecord:
        """A live file's metadata; 404 for unknown, deleted or other users' ids."""
        return self._live(self.workspace(ctx), file_id)

    def open_content(self, ctx: RequestContext, file_id: str, via: str = "api",
                     version: int | None = None, log: bool = True) -> Content:
        """The bytes of a ready file (its live version, or a kept ``version``), logged as a
        read unless ``log`` is false (the caller then calls ``note_read`` once it knows the
        bytes go out: not for a HEAD, a 304 or a 416); 409 while not ready, 404 for a
        version past its retention."""
        ws = self.workspace(ctx)
        return self._open(ctx, ws, self._version_view(ws.id, self._live(ws, file_id), version),
                          via=via, log=log)

    def note_read(self, ctx: RequestContext, record: FileRecord, via: str = "api") -> None:
        """Log a read of ``record`` (see ``open_content``)."""
        self._log_read(ctx, self.workspace(ctx), record, via)

    def versions(self, ctx: RequestContext, file_id: str) -> list[dict[str, object]]:
        """A live file's versions, newest first: which is live, which are still kept."""
        ws = self.workspace(ctx)
        record = self._live(ws, file_id)
        out = []
        for found in self.meta.list_file_versions(ws.id, record.id):
            kept_until = (plus_seconds(found.superseded_at, self.retention_seconds)
                          if found.superseded_at else None)
            out.append(found.to_api(found.version == record.version, kept_until))
        return out

    def _version_view(self, workspace_id: str, record: FileRecord,
                      version: int | None) -> FileRecord:
        """The record as it was at ``version`` (the live one when None or equal)."""
        self._require_ready(record)
        if version is None or version == record.version:
            return record
        found = self.meta.get_file_version(workspace_id, record.id, version)
        kept = found is not None and not found.purged and (
            found.superseded_at is None
            or utcnow() < plus_seconds(found.superseded_at, self.retention_seconds))
        if found is None or not kept:
            raise NotFound("version not found, or no longer kept", version=version)
        return replace(record, version=found.version, storage_key=found.storage_key,
                       storage_path=found.storage_path, size_bytes=found.size_bytes,
                       checksum=found.checksum, mime_type=found.mime_type,
                       file_type=mime.file_type_of(found.mime_type))

    def open_path(self, ctx: RequestContext, path: str, via: str = "api") -> Content:
        """Like ``open_content``, for the live file at a virtual path."""
        ws = self.workspace(ctx)
        record = self.meta.get_file_by_path(ws.id, v.check_virtual_path(path))
        if record is None or record.is_deleted:
            raise NotFound("file not found")
        return self._open(ctx, ws, record, via=via)

    def _log_read(self, ctx: RequestContext, ws: Workspace, record: FileRecord,
                  via: str) -> None:
        self.meta.append_log(ws.id, file_entry(ctx, "read", record.id, {
            "filename": record.filename, "size_bytes": record.size_bytes,
            "version": record.version, "via": via}))

    def _open(self, ctx: RequestContext, ws: Workspace, record: FileRecord, via: str,
              log: bool = True) -> Content:
        self._require_ready(record)
        stream = self.blobs.open_read(record.storage_key)
        try:
            if log:
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
                      inline: bool = False, version: int | None = None,
                      log_read: bool = True) -> tuple[str, int]:
        """A short-lived URL that serves the file without a bearer token, and its expiry.

        GCS issues a V4 signed URL; the local store an HMAC-signed link to
        ``/files/<id>/signed``. Issuing a link is the logged read, on every backend, since
        a GCS download never passes through the service.
        """
        ws = self.workspace(ctx)
        record = self._version_view(ws.id, self._live(ws, file_id), version)
        ttl = self.settings.download_url_ttl_seconds
        if self.blobs.supports_signed_urls:
            url, expires = self.blobs.signed_download_url(
                record.storage_key, record.filename, record.mime_type, ttl)
        else:
            assert self.signer is not None, "signed links need a signer"
            query, expires = self.signer.sign(ws.id, record.id, record.version, ttl)
            url = f"{base_url}{API_PREFIX}/files/{record.id}/signed?{query}"
            url += "&inline=true" if inline else ""
        if log_read:
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
        if record is None or record.is_deleted:
            raise NotFound("invalid or expired link")
        try:
            served = self._version_view(ws_id, record, version)
        except NotFound as exc:
            raise NotFound("invalid or expired link") from exc
        return Content(served, self.blobs.open_read(served.storage_key))

    def list(self, ctx: RequestContext, query: FileQuery) -> Page[FileRecord]:
        """One page of live files matching every filter."""
        return self.meta.list_files(self.workspace(ctx).id, query)

    def count(self, ctx: RequestContext, query: FileQuery) -> int:
        """How many live files match."""
        return self.meta.count_files(self.workspace(ctx).id, query)

    def search(self, ctx: RequestContext, query: SearchQuery) -> Hits[FileRecord]:
        """Ranked search over filename, description and tags, in the query's session,
        with the number of matches (or a lower bound, said so)."""
        return self.meta.count_search_files(
            self.workspace(ctx).id, v.check_query(query.text),
            v.check_choice(query.file_type, FILE_TYPES, "file_type"), query.limit,
            session_folder(query.session_id))

    # -- delete -----------------------------------------------------------------------
    def delete(self, ctx: RequestContext, file_id: str) -> FileRecord:
        """Soft-delete: the path is free at once; the blob is purged after retention."""
        ws = self.workspace(ctx)
        record = self._live(ws, file_id)
        entry = file_entry(ctx, "delete", record.id, {
            "filename": record.filename, "path": record.path, "version": record.version})
        return self.meta.delete_file(ws.id, record.id, entry, self.retention_seconds)
