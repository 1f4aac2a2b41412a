"""Streaming ``multipart/form-data`` reading: ``read_form`` into one ``FormHandler``.

Werkzeug's sans-IO ``MultipartDecoder`` does the parsing; this module only routes its events
to the handler: each text field the moment it completes (so a bad ``path`` stops the upload
before the file is read), then the file part chunk by chunk (hash, scan, stage), so a 200 MiB
upload never sits in memory.
"""

from __future__ import annotations

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


class FormHandler(Protocol):
    """Where a form's parts go, in the order they arrive."""

    def field(self, name: str, value: str) -> None:
        """A text field, complete; may raise to stop the upload."""

    def file_start(self, filename: str, content_type: str | None) -> None:
        """The file part begins (its declared name and type)."""

    def file_data(self, chunk: bytes) -> None:
        """The next bytes of the file part."""


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


def read_form(stream: BinaryIO, content_type: str | None, file_field: str,
              handler: FormHandler, max_total: int) -> None:
    """Parse a multipart body into ``handler``; exactly one file part named ``file_field``.

    Memory stays bounded whatever the body: the decoder's buffer is capped (every event is
    drained after each read, so only junk before a boundary or inside part headers could grow
    it), reading stops at the closing boundary, and at most ``max_total`` bytes are read
    (chunked bodies have no Content-Length).
    """
    decoder = MultipartDecoder(boundary_of(content_type), max_parts=MAX_PARTS,
                               max_form_memory_size=DECODER_BUFFER)
    total = 0
    current: Field | File | None = None
    buffer: list[bytes] = []
    file_seen = file_done = finished = False
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
                    if event.name != file_field or file_seen:
                        raise BadRequest(f"exactly one file part named {file_field!r} is allowed")
                    file_seen = True
                    handler.file_start(event.filename, event.headers.get("Content-Type"))
                    current = event
                elif isinstance(event, Field):
                    current, buffer = event, []
                elif isinstance(event, Data):
                    if isinstance(current, File):
                        handler.file_data(event.data)
                        file_done = not event.more_data
                    elif isinstance(current, Field):
                        buffer.append(event.data)
                        if sum(map(len, buffer)) > MAX_FIELD_BYTES:
                            raise PayloadTooLarge(
                                f"form fields are limited to {MAX_FIELD_BYTES} bytes")
                        if not event.more_data:
                            handler.field(current.name, _text(current.name, buffer))
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
    if not file_done:
        raise BadRequest(f"a file part named {file_field!r} is required")


def _text(name: str, buffer: list[bytes]) -> str:
    try:
        return b"".join(buffer).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"form field {name!r} is not valid UTF-8") from exc
