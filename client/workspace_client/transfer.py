"""Uploads and downloads: ``Uploader`` (direct signed-URL or multipart) and ``open_content``.

Uploads pick their path per file. The direct path (``POST /files/upload-url``, a PUT of the
bytes straight to storage, then a wait for the scan verdict) is used for files of at least
``direct_threshold`` bytes when the server offers it; a 501 (the embedded backend) switches
this client to multipart for good. Small files go multipart either way: the request itself
returns the verdict, with no event round trip. Both paths stream the file and report progress.

Downloads follow the API's 302 to a signed URL themselves, without the bearer token (signed
URLs are their own credential; GCS refuses a request that carries both).
"""

from __future__ import annotations

import io
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import quote, urljoin

import requests

from workspace_client.bodies import Progress, StreamBody, form_fields, multipart_body
from workspace_client.errors import (
    Infected,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    ScanTimeout,
    UploadRejected,
    WorkspaceError,
)
from workspace_client.models import File, UploadTicket
from workspace_client.retry import NO_RETRY
from workspace_client.transport import Transport

#: What ``upload`` accepts: a local path, bytes, or a binary file object.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes]]
DIRECT_THRESHOLD = 8 * 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass
class Opened:
    """An upload source made seekable, with its size and the offset its bytes start at."""

    stream: IO[bytes]
    filename: str
    size: int
    start: int
    owned: bool

    def rewind(self) -> IO[bytes]:
        """The stream, positioned at the first byte to send."""
        self.stream.seek(self.start)
        return self.stream


def open_source(source: Source, filename: str | None) -> Opened:
    """Open a path, wrap bytes, or make a file object seekable (spooling it if it is not)."""
    if isinstance(source, (str, os.PathLike)):
        handle = open(source, "rb")  # noqa: SIM115 - closed by the caller through ``owned``
        size = os.fstat(handle.fileno()).st_size
        return Opened(handle, filename or Path(source).name, size, 0, True)
    if isinstance(source, (bytes, bytearray)):
        return Opened(io.BytesIO(bytes(source)), filename or "upload.bin", len(source), 0, True)
    name = filename or Path(str(getattr(source, "name", "") or "upload.bin")).name
    if name in ("<stdin>", ""):
        name = "upload.bin"
    try:
        start = source.tell()
        size = source.seek(0, os.SEEK_END) - start
        source.seek(start)
        return Opened(source, name, size, start, False)
    except (AttributeError, OSError, ValueError):
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        shutil.copyfileobj(source, spool, CHUNK)
        return Opened(spool, name, spool.tell(), 0, True)  # type: ignore[arg-type]


class Uploader:
    """Sends files to one workspace; remembers whether the server offers direct uploads."""

    def __init__(self, transport: Transport, direct_threshold: int = DIRECT_THRESHOLD) -> None:
        self.transport = transport
        self.direct_threshold = direct_threshold
        self.direct_offered: bool | None = None

    def upload(self, source: Source, *, path: str | None = None, filename: str | None = None,
               description: str | None = None, tags: Sequence[str] = (),
               overwrite: bool = False, session_id: str | None = None,
               metadata: dict[str, Any] | None = None, created_by: str | None = None,
               mime_type: str | None = None, method: str = "auto", wait: bool = True,
               wait_timeout: float = 600.0, progress: Progress | None = None) -> File:
        """Upload and return the record (``ready``; ``pending`` with ``wait=False`` on the
        direct path). Malware raises ``Infected`` on either path."""
        if method not in ("auto", "direct", "multipart"):
            raise ValueError("method must be 'auto', 'direct' or 'multipart'")
        if filename is None and path and not path.endswith("/"):
            filename = path.rsplit("/", 1)[1] or None  # a path naming a file names it
        opened = open_source(source, filename)
        try:
            mime = (mime_type or mimetypes.guess_type(opened.filename)[0]
                    or "application/octet-stream")
            draft = {"description": description, "tags": list(tags), "path": path,
                     "overwrite": overwrite, "session_id": session_id, "metadata": metadata,
                     "created_by": created_by}
            if method == "direct" or (method == "auto" and self.direct_offered is not False
                                      and opened.size >= self.direct_threshold):
                try:
                    ticket = self.ticket(opened.filename, opened.size, mime, **draft)
                except (NotSupported, NotFound, MethodNotAllowed):
                    if method == "direct":
                        raise
                    self.direct_offered = False
                else:
                    self.direct_offered = True
                    self.put(ticket, opened, progress)
                    if not wait:
                        return self.get(ticket.file_id)
                    return self.wait(ticket, wait_timeout)
            return self.multipart(opened, mime, explicit_name=filename, progress=progress,
                                  **draft)
        finally:
            if opened.owned:
                opened.stream.close()

    def ticket(self, filename: str, size: int, mime_type: str, **draft: Any) -> UploadTicket:
        """Reserve a direct upload (``POST /files/upload-url``)."""
        body = {"filename": filename, "size_bytes": size, "mime_type": mime_type}
        body.update({k: v for k, v in draft.items() if v not in (None, [], False)})
        return UploadTicket.from_api(self.transport.json("POST", "/files/upload-url", json=body))

    def put(self, ticket: UploadTicket, opened: Opened, progress: Progress | None) -> None:
        """PUT the bytes to the signed URL with exactly the signed headers."""
        def body() -> StreamBody:
            return StreamBody(b"", opened.rewind(), opened.size, b"", progress)

        try:
            self.transport.request(ticket.method, ticket.upload_url, body=body,
                                   headers=ticket.headers, auth=False)
        except WorkspaceError as exc:
            # 412: the object exists already, so an earlier try of this PUT landed (the URL
            # is create-only). The scan verdict below tells what became of it.
            if exc.status != 412:
                raise

    def multipart(self, opened: Opened, mime_type: str, *, explicit_name: str | None,
                  progress: Progress | None, **draft: Any) -> File:
        """``POST /files`` as a streamed multipart form; the answer carries the verdict."""
        fields = form_fields(draft["description"], draft["tags"], draft["path"],
                             draft["overwrite"], draft["session_id"], draft["metadata"],
                             explicit_name, draft["created_by"])
        stream, content_type = multipart_body(fields, opened.filename, mime_type,
                                              opened.rewind(), opened.size, progress)
        # Never retried: without a precondition a repeated POST could store the file twice.
        answer = self.transport.request("POST", self.transport.api("/files"),
                                        body=lambda: stream,
                                        headers={"Content-Type": content_type}, retry=NO_RETRY)
        return File.from_api(answer.json())

    def get(self, file_id: str) -> File:
        """A file's current record."""
        return File.from_api(self.transport.json("GET", f"/files/{quote(file_id)}"))

    def wait(self, ticket: UploadTicket, timeout: float) -> File:
        """Poll until the upload's version is ``ready``; ``Infected`` / ``UploadRejected`` if
        the scan refused it, ``ScanTimeout`` if still pending after ``timeout`` seconds."""
        deadline, delay = time.monotonic() + timeout, 0.2
        while True:
            try:
                record = self.get(ticket.file_id)
            except NotFound:
                raise UploadRejected(
                    f"upload {ticket.file_id} was rejected: the stored object did not match "
                    "its reservation (size or name)") from None
            if record.status == "infected":
                raise Infected(f"file rejected: malware detected ({record.signature})",
                               signature=record.signature, file_id=record.id)
            if record.status == "ready" and record.version >= ticket.version:
                return record
            if ticket.version > 1:  # an overwrite: a refused version leaves the record as is
                self._overwrite_verdict(ticket)
            if time.monotonic() >= deadline:
                raise ScanTimeout(f"{ticket.file_id} is still pending after {timeout:.0f} s; "
                                  "it becomes ready once the scan finishes")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def _overwrite_verdict(self, ticket: UploadTicket) -> None:
        params = {"resource_id": ticket.file_id, "operation_type": "scan", "limit": 20}
        for entry in self.transport.json("GET", "/logs", params=params) or []:
            details = entry.get("details") or {}
            # The upload URL's ``version`` is the upload's slot; the scan entry names it
            # ``slot`` (servers before the commit-order versions called it ``version``).
            if details.get("slot", details.get("version")) != ticket.version:
                continue
            if details.get("verdict") == "infected":
                signature = details.get("signature")
                raise Infected(f"file rejected: malware detected ({signature})",
                               signature=signature, file_id=ticket.file_id)
            if details.get("verdict") == "unexpected":
                raise UploadRejected(f"upload of {ticket.file_id} version {ticket.version} was "
                                     f"rejected: {details.get('reason', 'unexpected object')}")


def open_content(transport: Transport, file_id: str) -> requests.Response:
    """The streamed 200 answer with a file's bytes, following redirects without the token."""
    answer = transport.request("GET", transport.api(f"/files/{quote(file_id)}/content"),
                               stream=True)
    for _ in range(5):
        if answer.status_code not in (301, 302, 303, 307, 308):
            return answer
        location = urljoin(answer.url, answer.headers["Location"])
        answer.close()
        answer = transport.request("GET", location, auth=False, stream=True)
    answer.close()
    raise WorkspaceError(f"too many redirects downloading {file_id}")


def download(transport: Transport, file_id: str, dest: str | os.PathLike[str] | IO[bytes],
             progress: Progress | None = None) -> int:
    """Stream a file's bytes into ``dest`` (a path, replaced atomically, or a binary file
    object) and return how many bytes were written."""
    with open_content(transport, file_id) as answer:
        total = int(answer.headers["Content-Length"]) if answer.headers.get(
            "Content-Length", "").isdigit() else None
        if not isinstance(dest, (str, os.PathLike)):
            return _copy(answer, dest, total, progress)
        target = Path(dest)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _copy(answer, out, total, progress)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        return written


def _copy(answer: requests.Response, out: IO[bytes], total: int | None,
          progress: Progress | None) -> int:
    written = 0
    for chunk in answer.iter_content(CHUNK):
        out.write(chunk)
        written += len(chunk)
        if progress is not None:
            progress(written, total)
    return written
