"""Streamed request bodies: ``StreamBody`` (bytes around a file, with a length and progress)
and ``multipart_body`` (a ``multipart/form-data`` upload built on it).

requests builds ``files=`` multipart bodies in memory; these read the file in 1 MiB chunks as
the socket takes them, send an exact ``Content-Length`` and report progress from ``read``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import IO, Any, Callable, Optional

CHUNK = 1024 * 1024

#: ``progress(bytes_sent, total_bytes)``; total is ``None`` when the size is unknown.
Progress = Callable[[int, Optional[int]], None]


class StreamBody:
    """``head`` + ``size`` bytes read from ``source`` + ``tail``, as a file-like request body.

    ``len()`` is the exact total, so requests sends a ``Content-Length`` rather than chunks.
    A source shorter than ``size`` raises ``ValueError`` (the server would see a truncated
    body otherwise); extra bytes past ``size`` are never sent.
    """

    def __init__(self, head: bytes, source: IO[bytes], size: int, tail: bytes = b"",
                 progress: Progress | None = None) -> None:
        self._parts: list[Any] = [head, source, tail]
        self._size, self._sent, self._total = size, 0, len(head) + size + len(tail)
        self._index, self._offset = 0, 0
        self._progress = progress

    def __len__(self) -> int:
        return self._total

    def read(self, amount: int = -1) -> bytes:
        """Up to ``amount`` bytes (all that is left when negative); ``b""`` at the end."""
        want = self._total if amount is None or amount < 0 else amount
        out = bytearray()
        while len(out) < want and self._index < len(self._parts):
            part = self._parts[self._index]
            if self._index == 1:
                left = self._size - self._offset
                chunk = part.read(min(want - len(out), left, CHUNK)) if left else b""
                if left and not chunk:
                    raise ValueError(f"the file ended after {self._offset} of {self._size} "
                                     "bytes (was it changed while uploading?)")
                self._offset += len(chunk)
                self._sent += len(chunk)
                if self._progress is not None and chunk:
                    self._progress(self._sent, self._size)
            else:
                chunk = part[self._offset:self._offset + want - len(out)]
                self._offset += len(chunk)
            out += chunk
            if (self._index == 1 and self._offset >= self._size) or (
                    self._index != 1 and self._offset >= len(part)):
                self._index, self._offset = self._index + 1, 0
        return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                return
            yield chunk


def _quote(value: str) -> str:
    """A header parameter value as browsers send it (WHATWG: ``"``, CR and LF escaped)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def form_fields(description: str | None, tags: Sequence[str], path: str | None,
                overwrite: bool, session_id: str | None, metadata: dict[str, Any] | None,
                filename: str | None, created_by: str | None) -> list[tuple[str, str]]:
    """The upload form's text fields; ``path``, ``filename`` and ``overwrite`` come first so
    the GCS backend can reserve the path before the bytes arrive."""
    fields: list[tuple[str, str]] = []
    if path:
        fields.append(("path", path))
    if filename:
        fields.append(("filename", filename))
    if overwrite:
        fields.append(("overwrite", "true"))
    if description:
        fields.append(("description", description))
    fields.extend(("tags", tag) for tag in tags)
    if session_id:
        fields.append(("session_id", session_id))
    if metadata is not None:
        fields.append(("metadata", json.dumps(metadata, ensure_ascii=False)))
    if created_by:
        fields.append(("created_by", created_by))
    return fields


def multipart_body(fields: Sequence[tuple[str, str]], filename: str, mime_type: str,
                   source: IO[bytes], size: int,
                   progress: Progress | None = None) -> tuple[StreamBody, str]:
    """A streamed ``multipart/form-data`` body with the file part last, and its content type."""
    boundary = f"----workspace-client-{uuid.uuid4().hex}"
    head = bytearray()
    for name, value in fields:
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"'
                 "\r\n\r\n").encode()
        head += value.encode("utf-8") + b"\r\n"
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="{_quote(filename)}"\r\nContent-Type: {mime_type}\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return (StreamBody(bytes(head), source, size, tail, progress),
            f"multipart/form-data; boundary={boundary}")
