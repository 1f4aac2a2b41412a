"""``UrlIssuer``: ``POST /files/upload-url``, a signed PUT straight to storage.

The request is checked like a multipart upload (name, path, size cap; ``UploadFields``) plus
the workspace quota, then the record is reserved (``status: pending``: listed, never served)
and an upload ``Ticket`` is written. The URL targets ``incoming/{ws}/{file_id}/{filename}`` in
the landing zone and signs the content type, ``x-goog-content-length-range`` (exactly the
declared size) and ``x-goog-if-generation-match: 0``, so GCS refuses a different size, a
different type and any second PUT that would replace the bytes being scanned. The bytes
become a file only after ``shared.uploads.finalize`` has scanned that generation.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, PayloadTooLarge, WorkspaceError
from shared.files.drafts import UploadFields
from shared.jsonbody import get_int, get_str
from shared.metadata.base import MetadataStore
from shared.models import FileDraft, Workspace
from shared.storage.base import LandingZone
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.tickets import TICKETS, Ticket, incoming_name

UPLOAD_URL_FIELDS = {"filename", "size_bytes", "mime_type", "description", "tags", "path",
                     "created_by", "overwrite", "session_id", "metadata"}
TICKET_GRACE_SECONDS = 3600  # an upload started just before expiry may still be arriving
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME_RE = re.compile(f"{_TOKEN}/{_TOKEN}")


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class UrlRequest:
    """A checked ``upload-url`` body: the draft, overwrite, declared size and MIME type."""

    draft: FileDraft
    overwrite: bool
    size_bytes: int
    mime_type: str


def check_request(ctx: RequestContext, body: dict[str, Any], max_bytes: int) -> UrlRequest:
    """A strict JSON body checked as a multipart upload's fields are (400/413)."""
    filename = get_str(body, "filename", required=True) or ""
    size = get_int(body, "size_bytes")
    if size is None:
        raise BadRequest("'size_bytes' is required")
    mime_type = get_str(body, "mime_type", required=True) or ""
    if not _MIME_RE.fullmatch(mime_type):
        raise BadRequest("'mime_type' must look like type/subtype")
    if size > max_bytes:
        raise PayloadTooLarge(f"file exceeds the {max_bytes // (1024 * 1024)} MiB limit",
                              max_bytes=max_bytes)
    draft, overwrite = UploadFields.from_json({**body, "filename": filename}).to_draft(ctx)
    return UrlRequest(draft, overwrite, size, mime_type)


class UrlIssuer:
    """Reserves the file, writes its ticket and signs the PUT."""

    def __init__(self, settings: Settings, meta: MetadataStore, landing: LandingZone) -> None:
        self.settings = settings
        self.meta = meta
        self.landing = landing

    def issue(self, ctx: RequestContext, ws: Workspace, request: UrlRequest) -> dict[str, Any]:
        """``{file_id, upload_url, method, headers, expires_at, path, version, status}``."""
        draft, overwrite = request.draft, request.overwrite
        size, mime_type = request.size_bytes, request.mime_type
        self._check_quota(ws.id, size)
        reservation = self.meta.reserve_file(ws.id, draft, overwrite)
        now = utcnow()
        ttl = self.settings.upload_url_ttl_seconds
        ticket = Ticket(
            workspace_id=ws.id, file_id=reservation.file_id, number=reservation.number,
            version=reservation.version, is_new=reservation.is_new,
            previous_storage_key=reservation.previous_storage_key, draft=draft,
            overwrite=overwrite, size_bytes=size, mime_type=mime_type,
            incoming_name=incoming_name(ws.id, reservation.file_id, draft.filename),
            agent_id=ctx.agent_id, task_id=ctx.task_id, created_at=now,
            expires_at=plus_seconds(now, ttl))
        doc = None
        try:
            doc = self.meta.create_doc(TICKETS, ticket.key, ticket.to_data(), ws.id,
                                       plus_seconds(ticket.expires_at, TICKET_GRACE_SECONDS))
            if doc is None:
                raise Conflict("an upload to this file is already in progress",
                               file_id=reservation.file_id, path=draft.path)
            signed = self.landing.signed_put(ticket.incoming_name, mime_type, size, ttl)
        except BaseException:
            with contextlib.suppress(WorkspaceError):
                if doc is not None:
                    self.meta.delete_doc(doc)
                self.meta.release_reservation(ws.id, reservation)
            raise
        return {"file_id": reservation.file_id, "upload_url": signed.url, "method": "PUT",
                "headers": signed.headers, "expires_at": _iso(signed.expires),
                "path": draft.path, "version": reservation.version, "status": "pending"}

    def _check_quota(self, workspace_id: str, size: int) -> None:
        """Live files plus the declared size of uploads in flight must stay under the quota."""
        quota = self.settings.workspace_quota_bytes
        if not quota:
            return
        used = self.meta.usage_bytes(workspace_id) + sum(
            int(doc.data.get("size_bytes", 0))
            for doc in self.meta.scoped_docs(TICKETS, workspace_id, 1000))
        if used + size > quota:
            raise PayloadTooLarge("the workspace quota would be exceeded",
                                  quota_bytes=quota, used_bytes=used)
