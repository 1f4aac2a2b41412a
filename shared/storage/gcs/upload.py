"""``GcsStagedBlob``: one streamed, create-only upload (``ifGenerationMatch=0``).

The bytes go out in a single multipart request (metadata, then the media) whose body is
produced while the client's upload still arrives: ``write`` coalesces them into ``PIECE``-sized
pieces on the bounded queue of a ``BodyPump`` that the request drains (chunked transfer
encoding). Memory is at most ``chunk_size`` queued plus one piece, and the bytes are hashed
once here and once by the server, whose answer gives the generation that promotion pins.

Why not the resumable protocol: it buffers a whole chunk, pays a round trip per chunk and, on
fake-gcs-server, a re-hash of the whole object per chunk. For objects capped at
``MAX_FILE_SIZE_MB`` the one thing resumability buys, re-sending a lost chunk, is better left
to the caller, who still holds the file: a broken stream fails the upload (503) and leaves
nothing behind, because a request whose body never ended creates no object. ``discard``
mid-stream aborts the request the same way. Why not ``Blob.open("wb")``: it keeps about two
chunks alive and does not report the generation it created.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import google_crc32c

from shared.errors import BackendUnavailable, Conflict
from shared.models import ObjectRef
from shared.storage.base import StagedBlob
from shared.storage.gcs.errors import edge
from shared.storage.gcs.objects import TAKEN, GcsObjects
from shared.storage.gcs.reader import checked, crc32c_b64
from shared.streaming import BodyPump, PumpStopped

log = logging.getLogger(__name__)

PIECE = 1024 * 1024  # what a staged upload queues at a time
UPLOAD_ID = "workspace-upload-id"  # custom metadata that ties a promoted object to its upload


class GcsStagedBlob(StagedBlob):
    """Bytes streaming to ``bucket/name`` in one request; ``close`` waits for the object."""

    def __init__(self, objects: GcsObjects, bucket: str, name: str, chunk_size: int,
                 upload_id: str) -> None:
        self.upload_id = upload_id
        self.bucket = bucket
        self.name = name
        self.size = 0
        self.generation: int | None = None
        self._objects = objects
        self._conn = objects.conn
        self._pending = bytearray()  # bytes not yet queued, under one piece
        self._pump: BodyPump[dict[str, Any]] = BodyPump(
            self._send, depth=max(1, chunk_size // PIECE), name=f"gcs-{self.upload_id}")
        self._resource: dict[str, Any] | None = None
        self._crc = google_crc32c.Checksum()
        self._open = True
        self._kept = False

    @property
    def ref(self) -> ObjectRef | None:
        """The object this upload created (after ``close``), or None."""
        return ObjectRef(self.bucket, self.name, self.generation) if self.generation else None

    def write(self, chunk: bytes) -> None:
        assert self._open, "staged blob is closed"
        if not chunk:
            return
        chunk = bytes(chunk)  # queued as is: it must not change under the sender
        self._crc.update(chunk)
        self.size += len(chunk)
        if not self._pending and PIECE // 4 <= len(chunk) <= PIECE:
            self._queue(chunk)  # the common case (a multipart read): no copy
            return
        self._pending += chunk
        while len(self._pending) >= PIECE:
            self._queue(bytes(self._pending[:PIECE]))
            del self._pending[:PIECE]

    def _queue(self, piece: bytes) -> None:
        try:
            self._pump.put(piece)
        except PumpStopped:
            with edge(precondition=Conflict(TAKEN)):
                raise self._pump.error or BackendUnavailable("storage upload ended early") \
                    from None

    def close(self) -> None:
        """Send the rest and wait for the object; its generation is kept for ``promote``."""
        if not self._open:
            return
        self._open = False
        if self._pending:
            self._queue(bytes(self._pending))
            self._pending = bytearray()
        with edge(precondition=Conflict(TAKEN)):
            self._resource = self._pump.finish()
        resource = self._resource or {}
        self.generation = int(str(resource["generation"]))  # even a wrong one: discard removes it
        if int(str(resource.get("size", -1))) != self.size:
            raise BackendUnavailable("staged upload is incomplete; retry the upload")
        if resource.get("crc32c") not in (None, crc32c_b64(self._crc)):
            raise BackendUnavailable("staged upload checksum mismatch; retry the upload")

    def keep(self) -> None:
        """The object now belongs to a record (promoted): ``discard`` must leave it alone."""
        self._kept = True

    def discard(self) -> None:
        self._open = False
        self._pending = bytearray()
        if self._kept:
            return
        try:
            self._pump.abort(wait=self._conn.timeout)  # the request ends unfinished
            generation = self.generation
            resource = self._resource or self._pump.result
            if generation is None and resource is not None:
                generation = int(str(resource["generation"]))  # landed, never closed
            if generation is not None:  # one attempt: error paths must not stall
                self._objects.delete(ObjectRef(self.bucket, self.name, generation), retry=False)
        except Exception:  # discard runs on error paths and must never raise
            log.warning("could not discard staging object %s", self.name, exc_info=True)

    def _send(self, pieces: Iterator[bytes]) -> dict[str, Any]:
        """The request thread: one multipart POST whose media part streams from the queue."""
        boundary = f"=={uuid.uuid4().hex}=="
        url = (f"{self._conn.endpoint}/upload/storage/v1/b/{quote(self.bucket, safe='')}/o"
               f"?uploadType=multipart&ifGenerationMatch=0")
        metadata = json.dumps({"name": self.name, "contentType": "application/octet-stream",
                               "metadata": {UPLOAD_ID: self.upload_id}})

        def body() -> Iterator[bytes]:
            yield (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
                   f"{metadata}\r\n--{boundary}\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n").encode()
            yield from pieces
            yield f"\r\n--{boundary}--\r\n".encode()

        response = checked(self._conn.session.post(
            url, data=body(), timeout=self._conn.timeout,
            headers={"Content-Type": f'multipart/related; boundary="{boundary}"'}))
        return dict(response.json())
