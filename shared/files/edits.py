"""``FileEdits``: changing files that exist, without uploading them again.

- ``edit`` (``PATCH /files/{id}``): description, tags and metadata in place; the id and the
  blob version stay, the ``revision`` moves on. Preconditions: ``If-Match`` (the revision the
  caller read, or the record's ETag) and ``expected_version`` (the content version).
- ``restore`` (``POST /files/{id}/restore``): a deleted file comes back from the trash while
  its bytes are kept (``FILE_RETENTION_DAYS``), at its old path or a new one.
- ``restore_version`` (``POST /files/{id}/versions/{n}/restore``): a kept version's bytes
  become the live version again, as a new version (uploaded, so scanned, again).
- ``batch_delete`` (``POST /files/batch-delete``): up to ``BATCH_MAX`` ids, one result each.

Every change writes one log entry with the store's change, in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from shared import validation as v
from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, NotFound, WorkspaceError, http_status
from shared.files.service import FileService
from shared.files.upload import file_entry
from shared.jsonbody import get_int, get_str
from shared.models import FileEdit, FileRecord

EDIT_FIELDS = {"description", "tags", "metadata", "expected_version"}
PATH_FIELDS = {"path", "filename"}  # moves and renames (``shared.files.folders``)
BATCH_MAX = 100
_ETAG_REVISION = re.compile(r'^(?:W/)?"[0-9a-f]{64}-r(\d{1,12})"$')


def metadata_etag(record: FileRecord) -> str:
    """The strong ETag of a record's metadata: its content's SHA-256 and its revision, so
    it changes with either (the content's own ETag is the bare SHA-256)."""
    return f'"{record.checksum}-r{record.revision}"'


def parse_if_match(header: str | None) -> int | None:
    """The revision an ``If-Match`` names: a bare revision number or a metadata ETag."""
    if header is None or not header.strip() or header.strip() == "*":
        return None
    value = header.strip()
    if re.fullmatch(r"[0-9]{1,12}", value):  # not str.isdigit: "²" is a digit int() refuses
        return int(value)
    match = _ETAG_REVISION.match(value)
    if match is None:
        raise BadRequest("If-Match must be the file's revision or its ETag")
    return int(match.group(1))


def is_move(body: dict[str, Any]) -> bool:
    """Whether a ``PATCH`` body moves or renames the file (``path``/``filename``, handled by
    ``shared.files.folders``) rather than editing its metadata. Both in one body is a 400:
    each change then has one precondition and one log entry."""
    given = {name for name, value in body.items() if value is not None}
    if not PATH_FIELDS & given:
        return False
    if (EDIT_FIELDS - {"expected_version"}) & given:
        raise BadRequest("move or rename (path, filename) and edit the description, tags "
                         "or metadata in separate requests")
    return True


def edit_from_json(body: dict[str, Any], if_match: str | None) -> FileEdit:
    """The checked edit of a ``PATCH`` body (wrong types and bad values are 400s)."""
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list)
                             or not all(isinstance(t, str) for t in tags)):
        raise BadRequest("'tags' must be an array of strings")
    description = get_str(body, "description")
    metadata = body.get("metadata")
    return FileEdit(
        description=None if description is None else v.check_description(description),
        tags=None if tags is None else v.check_tags(tags),
        metadata=None if metadata is None else v.check_metadata_object(metadata),
        if_revision=parse_if_match(if_match),
        expected_version=get_int(body, "expected_version", minimum=1, maximum=v.MAX_VERSION),
    )


class FileEdits:
    """Edits, restores and batch deletes over one ``FileService``."""

    def __init__(self, files: FileService) -> None:
        self.files = files
        self.meta = files.meta

    def edit(self, ctx: RequestContext, file_id: str, edit: FileEdit) -> FileRecord:
        """Apply ``edit``; 404 unknown or deleted, 409 not ready or a stale precondition."""
        ws = self.files.workspace(ctx)
        if not v.check_file_id(file_id):
            raise NotFound("file not found")
        entry = file_entry(ctx, "update", file_id, {"edit": "metadata"})
        return self.meta.edit_file(ws.id, file_id, edit, entry)

    def restore(self, ctx: RequestContext, file_id: str, path: str | None) -> FileRecord:
        """Bring a deleted file back from the trash (409 when its path is taken)."""
        ws = self.files.workspace(ctx)
        if not v.check_file_id(file_id):
            raise NotFound("file not found")
        target = v.check_virtual_path(path) if path else None
        entry = file_entry(ctx, "update", file_id, {"restored": True,
                                                     **({"path": target} if target else {})})
        return self.meta.restore_file(ws.id, file_id, target, entry)

    def restore_version(self, ctx: RequestContext, file_id: str, version: int,
                        expected_version: int | None) -> FileRecord:
        """Make kept ``version`` live again as a new version: its bytes are uploaded again
        (scanned again, counted against the quota) over the live file, keeping its
        description, tags and metadata."""
        record = self.files.get(ctx, file_id)
        if version == record.version:
            raise Conflict(f"version {version} is already the live version",
                           current_version=record.version)
        content = self.files.open_content(ctx, file_id, via="restore_version", version=version)
        with content.stream as stream:
            return self.files.rewrite(ctx, record, stream, expected_version or record.version)

    def batch_delete(self, ctx: RequestContext, ids: object) -> list[dict[str, Any]]:
        """Delete each id on its own: one ``{id, status, file | error}`` per id, in order."""
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("'ids' must be an array of file ids")
        if not 1 <= len(ids) <= BATCH_MAX:
            raise BadRequest(f"'ids' must hold 1 to {BATCH_MAX} ids")
        if len(set(ids)) != len(ids):
            raise BadRequest("'ids' holds an id twice")
        results: list[dict[str, Any]] = []
        for file_id in ids:
            try:
                record = self.files.delete(ctx, file_id)
                results.append({"id": file_id, "status": 200, "file": record.to_api()})
            except WorkspaceError as exc:
                if http_status(exc) >= 500:
                    raise  # an outage stops the batch; the ids done so far stay deleted
                results.append({"id": file_id, "status": http_status(exc), **exc.body()})
        return results


def restore_path(body: dict[str, Any]) -> str | None:
    """The optional ``path`` of a restore body."""
    return get_str(body, "path")
