"""What a media input is, and how its bytes are opened: ``kind_of``, ``Incoming``, ``Sources``.

Inputs come as one string (the spec's ``file``):

| form | kind | read from |
|---|---|---|
| ``data:[type][;base64],...`` | ``data`` | the string itself, decoded piece by piece |
| ``http(s)://...`` | ``url`` | the network, through the SSRF-safe ``Fetcher`` |
| ``workspace://file_000001``, ``workspace:///path`` (``#mime``) | ``workspace`` | own workspace |
| ``gcs://bucket/object`` | ``gcs`` | an allow-listed bucket (``GcsInput``) |
| ``name.png``, ``dir/name.png`` | ``local`` | the execution's own directory |

Any other ``scheme:`` is a 400. Remote kinds open as an ``Incoming``: a chunk iterator, a
name hint for the exec-dir file and the facts the operation log records (a URL's host, never
its path or query, which may carry tokens).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from shared import validation as v
from shared.context import RequestContext
from shared.errors import BadRequest, NotFound
from shared.files.service import FileService
from shared.media.datauri import DataUri
from shared.media.fetch import Fetcher, too_large
from shared.media.gcs_input import GcsInput
from shared.models import FileRecord
from shared.storage.base import READ_CHUNK

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_MIME_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_PREFIXES = (("data:", "data"), ("http://", "url"), ("https://", "url"),
             ("workspace://", "workspace"), ("gcs://", "gcs"))


def kind_of(file: object) -> str:
    """``data``, ``url``, ``workspace``, ``gcs`` or ``local``; 400 for anything else."""
    if not isinstance(file, str) or not file:
        raise BadRequest("'file' must be a non-empty string")
    head = file[:16].lower()
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if _SCHEME_RE.match(file):
        raise BadRequest("unsupported input: use data:, http(s)://, workspace://, gcs:// "
                         "or a path relative to the execution's directory")
    return "local"


@dataclass(frozen=True)
class WorkspaceRef:
    """A parsed ``workspace://`` reference: a file id or a virtual path, and a MIME hint."""

    file_id: str | None
    path: str | None
    mime_hint: str | None

    @classmethod
    def parse(cls, uri: str) -> WorkspaceRef:
        """``workspace://<file_id>`` or ``workspace:///<path>``, optional ``#type/subtype``."""
        rest, _, fragment = uri[len("workspace://"):].partition("#")
        mime = fragment.lower() or None
        if mime is not None and not _MIME_RE.fullmatch(mime):
            raise BadRequest("the workspace:// fragment must be a MIME type (type/subtype)")
        if rest.startswith("/"):
            try:
                path = unquote(rest, errors="strict")
            except UnicodeDecodeError as exc:
                raise BadRequest("the workspace:// path is not valid UTF-8") from exc
            return cls(None, v.check_virtual_path(path), mime)
        if not rest or "/" in rest:
            raise BadRequest("use workspace://<file_id> or workspace:///<virtual path>")
        return cls(rest, None, mime)

    def display(self) -> str:
        """The reference as logged."""
        return f"workspace://{self.file_id}" if self.file_id else f"workspace://{self.path}"


@dataclass
class Incoming:
    """An opened remote input."""

    chunks: Iterator[bytes]
    name_hint: str
    details: dict[str, Any] = field(default_factory=dict)
    record: FileRecord | None = None  # the source file, for workspace inputs


def data_details(uri: DataUri) -> dict[str, Any]:
    """What the operation log records about a data URI: the claimed type, the encoding."""
    return {"declared_type": uri.declared_type,
            "encoding": "base64" if uri.is_base64 else "percent"}


def url_name(url: str) -> str:
    """The last path segment of a URL, percent-decoded (a name hint, sanitised later)."""
    segment = posixpath.basename(urlsplit(url).path)
    return unquote(segment, errors="replace")


class Sources:
    """Opens remote inputs; each ``open_*`` is a context manager that releases its source."""

    def __init__(self, files: FileService, fetcher: Fetcher,
                 gcs: GcsInput) -> None:
        self.files, self.fetcher, self._gcs = files, fetcher, gcs

    @contextlib.contextmanager
    def open(self, kind: str, file: str, ctx: RequestContext,
             max_bytes: int) -> Iterator[Incoming]:
        """Open ``file`` (of ``kind``, not ``local``) for reading."""
        opener = {"data": self._data, "url": self._url, "workspace": self._workspace,
                  "gcs": self._gcs_object}[kind]
        with opener(file, ctx, max_bytes) as incoming:
            yield incoming

    @contextlib.contextmanager
    def _data(self, file: str, ctx: RequestContext, max_bytes: int) -> Iterator[Incoming]:
        uri = DataUri.parse(file)
        yield Incoming(uri.chunks(max_bytes), "", data_details(uri))

    @contextlib.contextmanager
    def _url(self, file: str, ctx: RequestContext, max_bytes: int) -> Iterator[Incoming]:
        with self.fetcher.open(file, max_bytes) as download:
            # Named after the URL finally fetched (a short link's target names the file).
            name = url_name(download.target.request_target) or url_name(file) or "download"
            yield Incoming(download.chunks(), name, {"url": download.target.display})

    @contextlib.contextmanager
    def _workspace(self, file: str, ctx: RequestContext, max_bytes: int) -> Iterator[Incoming]:
        ref = WorkspaceRef.parse(file)
        if ref.file_id is not None:
            if not v.check_file_id(ref.file_id):
                raise NotFound("file not found")
            content = self.files.open_content(ctx, ref.file_id, via="media")
        else:
            content = self.files.open_path(ctx, ref.path or "", via="media")
        with content.stream as stream:
            record = content.record
            if record.size_bytes > max_bytes:
                raise too_large(max_bytes)

            def chunks() -> Iterator[bytes]:
                while chunk := stream.read(READ_CHUNK):
                    yield chunk

            yield Incoming(chunks(), record.filename,
                           {"source_file_id": record.id, "source_path": record.path},
                           record)

    @contextlib.contextmanager
    def _gcs_object(self, file: str, ctx: RequestContext, max_bytes: int) -> Iterator[Incoming]:
        chunks, _size = self._gcs.open(file, max_bytes)
        bucket, _, name = file[len("gcs://"):].partition("/")
        try:
            yield Incoming(chunks, posixpath.basename(name), {"bucket": bucket})
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
