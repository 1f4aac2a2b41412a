"""Streaming ``multipart/form-data`` reading: ``read_form`` with a ``FileSink`` for the file part.

Werkzeug's sans-IO ``MultipartDecoder`` does the parsing; this module only routes its events.
The file part goes straight to a sink (hash, scan, stage) chunk by chunk, so a 200 MiB upload
never sits in memory, and each text field is checked the moment it completes, so a bad
``path`` stops the upload before the file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    State,
)

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

READ_CHUNK = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 100
DECODER_BUFFER = READ_CHUNK + MAX_FIELD_BYTES + 64 * 1024


class FileSink(Protocol):
    """Where the file part's bytes go."""

    def write(self, chunk: bytes) -> None: ...


@dataclass
class Form:
    """The text fields (repeatable) and the file part's declared name and type."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    filename: str | None = None
    file_content_type: str | None = None

    def one(self, name: str) -> str | None:
        """A field that may appear once; a repeat is a 400."""
        values = self.fields.get(name, [])
        if len(values) > 1:
            raise BadRequest(f"form field {name!r} may appear only once")
        return values[0] if values else None


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart content type; 415 for any other type."""
    mimetype, options = parse_options_header(content_type or "")
    if mimetype != "multipart/form-data":
        raise UnsupportedMediaType("uploads must be multipart/form-data")
    boundary = options.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise BadRequest("multipart body has no valid boundary")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError as exc:
        raise BadRequest("multipart boundary must be ASCII") from exc


def read_form(
    stream: BinaryIO,
    content_type: str | None,
    file_field: str,
    open_sink: Callable[[str, str | None, Form], FileSink],
    check_field: Callable[[str, str], None],
    max_total: int,
) -> Form:
    """Parse a multipart body: fields into ``Form``, the one file part into ``open_sink``.

    ``check_field(name, value)`` runs as each field completes and may raise. Exactly one
    file part named ``file_field`` is required. Memory stays bounded whatever the body: the
    decoder's buffer is capped (every event is drained after each read, so only junk before
    a boundary or inside part headers could grow it), reading stops at the closing boundary,
    and at most ``max_total`` bytes are read (chunked bodies have no Content-Length).
    """
    decoder = MultipartDecoder(boundary_of(content_type), max_parts=MAX_PARTS,
                               max_form_memory_size=DECODER_BUFFER)
    total = 0
    form = Form()
    sink: FileSink | None = None
    current: Field | File | None = None
    buffer: list[bytes] = []
    file_done = False
    finished = False
    try:
        while not finished:
            chunk = stream.read(READ_CHUNK)
            total += len(chunk)
            if total > max_total:
                raise PayloadTooLarge(f"the upload exceeds {max_total} bytes",
                                      max_bytes=max_total)
            decoder.receive_data(chunk or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, Epilogue):
                    finished = True
                    break
                if isinstance(event, File):
                    if event.name != file_field or sink is not None:
                        raise BadRequest(f"exactly one file part named {file_field!r} is allowed")
                    form.filename = event.filename
                    form.file_content_type = event.headers.get("Content-Type")
                    sink = open_sink(event.filename, form.file_content_type, form)
                    current = event
                elif isinstance(event, Field):
                    current, buffer = event, []
                elif isinstance(event, Data):
                    if isinstance(current, File):
                        assert sink is not None
                        sink.write(event.data)
                        file_done = not event.more_data
                    elif isinstance(current, Field):
                        buffer.append(event.data)
                        if sum(map(len, buffer)) > MAX_FIELD_BYTES:
                            raise PayloadTooLarge(
                                f"form fields are limited to {MAX_FIELD_BYTES} bytes")
                        if not event.more_data:
                            _complete_field(form, current.name, buffer, check_field)
                event = decoder.next_event()
            finished = finished or decoder.state == State.EPILOGUE
            if not chunk and not finished:
                raise BadRequest("multipart body is truncated")
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"multipart framing exceeds its limits (at most {MAX_PARTS} "
                              "parts, bounded headers and preamble)") from exc
    except ValueError as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    if sink is None or not file_done:
        raise BadRequest(f"a file part named {file_field!r} is required")
    return form


def _complete_field(
    form: Form, name: str, buffer: list[bytes], check: Callable[[str, str], None]
) -> None:
    try:
        value = b"".join(buffer).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"form field {name!r} is not valid UTF-8") from exc
    check(name, value)
    form.fields.setdefault(name, []).append(value)
