"""Upload fields: ``UploadFields`` (typed, checked once) and ``FileDraft`` built from them.

Both ingresses describe an upload with the same fields: multipart text fields (``FormFields``
collects and checks them as they complete) and the JSON body of ``POST /files/upload-url``
(``UploadFields.from_json``). Each field is checked once, in its own type, and ``to_draft``
turns the fields into the ``FileDraft`` the store reserves: the final path (a folder ending
in '/' gets the filename; a session puts the file under ``/sessions/{id}/``) and the creator.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from shared import validation as v
from shared.context import RequestContext
from shared.errors import BadRequest
from shared.jsonbody import get_bool, get_int, get_str
from shared.models import FileDraft

FORM_FIELDS = ("description", "tags", "created_by", "path", "overwrite", "session_id",
               "metadata", "filename", "expected_version")
# Fields that decide where the file goes: a change after an early reservation moves it.
PLACEMENT_FIELDS = frozenset({"path", "filename", "overwrite", "session_id"})


def _check_path(value: str) -> str:
    return v.check_path_prefix(value) if value.endswith("/") else v.check_virtual_path(value)


@dataclass(frozen=True)
class UploadFields:
    """What an upload request asks for, each field already checked."""

    filename: str | None = None
    path: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    created_by: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    overwrite: bool = False
    expected_version: int | None = None  # the live version the writer saw (409 otherwise)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> UploadFields:
        """The fields of a strict JSON body (wrong types are 400s)."""
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, list)
                                 or not all(isinstance(t, str) for t in tags)):
            raise BadRequest("'tags' must be an array of strings")
        filename, path = get_str(body, "filename"), get_str(body, "path")
        session_id = get_str(body, "session_id")
        return cls(
            filename=v.check_filename(filename) if filename else None,
            path=_check_path(path) if path else None,
            description=v.check_description(get_str(body, "description") or ""),
            tags=v.check_tags(tags or []),
            created_by=v.check_actor_id(get_str(body, "created_by"), "created_by"),
            metadata=v.check_metadata_object(body.get("metadata")),
            session_id=v.check_session_id(session_id) if session_id else None,
            overwrite=get_bool(body, "overwrite", False),
            expected_version=get_int(body, "expected_version", maximum=v.MAX_VERSION),
        )

    def to_draft(self, ctx: RequestContext, part_filename: str = "") -> tuple[FileDraft, bool]:
        """The draft to reserve and whether it may overwrite a live file."""
        filename = v.check_filename(self.filename or part_filename)
        session_id = self.session_id or ctx.session_id
        if self.path is None:
            folder = f"/sessions/{session_id}/" if session_id else "/"
            path = v.check_virtual_path(folder + filename)
        elif self.path.endswith("/"):
            path = v.check_virtual_path(self.path + filename)
        else:
            path = self.path
        return FileDraft(filename=filename, path=path, session_id=session_id,
                         description=self.description, tags=self.tags,
                         created_by=self.created_by or ctx.agent_id,
                         metadata=self.metadata), self.overwrite


class FormFields:
    """Multipart text fields, checked one by one as they complete (a bad one stops the upload
    before the file is read). ``tags`` may repeat; any other repeated field is a 400."""

    def __init__(self) -> None:
        self.fields = UploadFields()
        self._seen: set[str] = set()
        self._tags: list[str] = []

    def add(self, name: str, value: str) -> None:
        """Check and keep one field."""
        if name not in FORM_FIELDS:
            raise BadRequest(f"unknown form field {name!r}")
        if name != "tags" and name in self._seen:
            raise BadRequest(f"form field {name!r} may appear only once")
        self._seen.add(name)
        if name == "tags":
            self._tags.append(value)
            change: dict[str, Any] = {"tags": v.check_tags(self._tags)}
        elif name == "overwrite":
            change = {"overwrite": v.parse_bool(value, "overwrite")}
        elif name == "expected_version":
            change = {"expected_version": v.parse_version(value, "expected_version")}
        elif name == "metadata":
            change = {"metadata": v.check_metadata(value)}
        elif name == "description":
            change = {"description": v.check_description(value)}
        elif name == "created_by":
            change = {"created_by": v.check_actor_id(value, "created_by")}
        elif name == "session_id":
            change = {"session_id": v.check_session_id(value)}
        elif name == "path":
            change = {"path": _check_path(value)}
        else:
            change = {"filename": v.check_filename(value)}
        self.fields = replace(self.fields, **change)
