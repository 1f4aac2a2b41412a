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
from shared.models import FileDraft, Reservation, Workspace
from shared.quota import Quota
from shared.storage.base import LandingZone
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.tickets import TICKETS, Ticket, incoming_name

UPLOAD_URL_FIELDS = {"filename", "size_bytes", "mime_type", "description", "tags", "path",
                     "created_by", "overwrite", "session_id", "metadata", "expected_version"}
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
    expected_version: int | None = None


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
    fields = UploadFields.from_json({**body, "filename": filename})
    draft, overwrite = fields.to_draft(ctx)
    return UrlRequest(draft, overwrite, size, mime_type, fields.expected_version)


class UrlIssuer:
    """Reserves the file, writes its ticket and signs the PUT."""

    def __init__(self, settings: Settings, meta: MetadataStore, landing: LandingZone,
                 quota: Quota) -> None:
        self.settings = settings
        self.meta = meta
        self.landing = landing
        self.quota = quota

    def issue(self, ctx: RequestContext, ws: Workspace, request: UrlRequest) -> dict[str, Any]:
        """``{file_id, upload_url, method, headers, expires_at, path, version, status}``."""
        draft, overwrite = request.draft, request.overwrite
        size, mime_type = request.size_bytes, request.mime_type
        self.quota.check(ws.id, size)
        reservation = self.meta.reserve_file(ws.id, draft, overwrite)
        self._check_expected(ws.id, reservation, request.expected_version)
        now = utcnow()
        ttl = self.settings.upload_url_ttl_seconds
        ticket = Ticket(
            workspace_id=ws.id, file_id=reservation.file_id, number=reservation.number,
            slot=reservation.slot, is_new=reservation.is_new,
            previous_storage_key=reservation.previous_storage_key, draft=draft,
            overwrite=overwrite, size_bytes=size, mime_type=mime_type,
            incoming_name=incoming_name(ws.id, reservation.file_id, draft.filename),
            agent_id=ctx.agent_id, task_id=ctx.task_id, created_at=now,
            expires_at=plus_seconds(now, ttl), expected_version=request.expected_version,
            session_id=ctx.session_id, api_key=ctx.key_id)
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
                "path": draft.path, "version": reservation.slot, "status": "pending"}

    def _check_expected(self, workspace_id: str, reservation: Reservation,
                        expected: int | None) -> None:
        """Fail fast (409) when the live version is not the expected one; finalize checks
        again, since another overwrite may land between now and the upload's arrival."""
        if expected is None:
            return
        record = self.meta.get_file(workspace_id, reservation.file_id)
        live = record.version if record is not None else 0
        if live != expected:
            with contextlib.suppress(WorkspaceError):
                self.meta.release_reservation(workspace_id, reservation)
            raise Conflict("the file changed since the expected version",
                           current_version=live, expected_version=expected)
