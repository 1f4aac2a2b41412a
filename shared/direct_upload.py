"""``DirectUploads.issue``: ``POST /files/upload-url``, a signed PUT straight to GCS.

The request is checked like a multipart upload (name, path, size cap) plus the workspace
quota, then the record is reserved (``status: pending``: listed, never served) and an upload
``Ticket`` is written. The V4 URL targets ``incoming/{ws}/{file_id}/{filename}`` in the
incoming bucket and signs the content type, ``x-goog-content-length-range`` (exactly the
declared size) and ``x-goog-if-generation-match: 0``, so GCS refuses a different size, a
different type and any second PUT that would replace the bytes being scanned. The bytes
become a file only after ``shared.scan_uploads`` has scanned that generation.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, NotSupported, PayloadTooLarge, WorkspaceError
from shared.files import FileService
from shared.jsonbody import get_bool, get_int, get_str
from shared.tickets import TICKETS, Ticket, incoming_name, ticket_key
from shared.timeutil import plus_seconds, utcnow

UPLOAD_URL_FIELDS = {"filename", "size_bytes", "mime_type", "description", "tags", "path",
                     "created_by", "overwrite", "session_id", "metadata"}
TICKET_GRACE_SECONDS = 3600  # an upload started just before expiry may still be arriving
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME_RE = re.compile(f"{_TOKEN}/{_TOKEN}")


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


class DirectUploads:
    """Issues signed upload URLs; needs the GCS files store and an incoming bucket."""

    def __init__(self, settings: Settings, files: FileService) -> None:
        self.settings = settings
        self.files = files
        self.meta = files.meta

    @property
    def supported(self) -> bool:
        """Capability: the blob store signs URLs and an incoming bucket is configured."""
        return self.files.blobs.supports_signed_urls and self.settings.direct_uploads

    def issue(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Reserve the file and return ``{file_id, upload_url, method, headers, expires_at}``."""
        filename = get_str(body, "filename", required=True) or ""
        size = get_int(body, "size_bytes")
        if size is None:
            raise BadRequest("'size_bytes' is required")
        mime_type = get_str(body, "mime_type", required=True) or ""
        if not _MIME_RE.fullmatch(mime_type):
            raise BadRequest("'mime_type' must look like type/subtype")
        limit = self.settings.max_file_size_bytes
        if size > limit:
            raise PayloadTooLarge(f"file exceeds the {limit // (1024 * 1024)} MiB limit",
                                  max_bytes=limit)
        draft, overwrite = self.files.draft(ctx, _fields(body).get, _tags(body), filename)
        if not self.supported:
            raise NotSupported("direct uploads need the GCS backend (MEDIA_GCS_BUCKET_NAME and "
                               "INCOMING_GCS_BUCKET_NAME); upload with POST /files instead")
        ws = self.files.workspace(ctx)
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
            url, headers, expires = self.files.blobs.signed_put(  # type: ignore[attr-defined]
                self.settings.incoming_gcs_bucket_name, ticket.incoming_name, mime_type, size,
                ttl)
        except BaseException:
            with contextlib.suppress(WorkspaceError):
                if doc is not None:
                    self.meta.delete_doc(doc)
                self.meta.release_reservation(ws.id, reservation)
            raise
        return {"file_id": reservation.file_id, "upload_url": url, "method": "PUT",
                "headers": headers, "expires_at": _iso(expires), "path": draft.path,
                "version": reservation.version, "status": "pending"}

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


def _fields(body: dict[str, Any]) -> dict[str, str]:
    """The text fields as the multipart path sees them (one string each)."""
    out: dict[str, str] = {}
    for name in ("filename", "description", "path", "created_by", "session_id"):
        value = get_str(body, name)
        if value is not None:
            out[name] = value
    out["overwrite"] = "true" if get_bool(body, "overwrite", False) else "false"
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise BadRequest("'metadata' must be a JSON object")
        out["metadata"] = json.dumps(metadata)
    return out


def _tags(body: dict[str, Any]) -> list[str]:
    tags = body.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise BadRequest("'tags' must be an array of strings")
    return tags


def ticket_exists(files: FileService, workspace_id: str, file_id: str) -> bool:
    """True when a direct upload still answers for this reservation (the sweep keeps it)."""
    return files.meta.get_doc(TICKETS, ticket_key(workspace_id, file_id)) is not None
