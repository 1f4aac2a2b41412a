"""``Digest`` and ``Ingest``: one pass over incoming bytes that limits, hashes, sniffs, scans
and stages them.

Every way bytes enter the service (multipart upload, media inputs, and, through ``Digest``
alone, the signed-URL finalize scan of an object already in GCS) goes through this, so the
size cap, the checksum and the verdict are computed the same way everywhere, in a single
streaming pass with memory bounded by the chunk size.
"""

from __future__ import annotations

import hashlib

from shared import mime
from shared.errors import PayloadTooLarge
from shared.models import BlobFacts
from shared.scanning.base import Scanner, ScanSession, Verdict
from shared.storage.base import BlobStore, StagedBlob


class Digest:
    """Limit, hash, sniff and scan bytes as they stream: the part of ingesting that keeps
    nothing, shared by ``Ingest`` (which also stages) and the finalize scan of an object
    already in GCS. ``finish`` gives the verdict and the facts; ``abort`` gives up."""

    def __init__(self, scanner: Scanner, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()
        self._head = bytearray()
        self._scan: ScanSession = scanner.open_session()
        self.finished = False

    def write(self, chunk: bytes) -> None:
        """Take the next chunk; 413 as soon as the running size passes the cap."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"file exceeds the {self.max_bytes // (1024 * 1024)} MiB limit",
                max_bytes=self.max_bytes,
            )
        self._sha.update(chunk)
        if len(self._head) < mime.SNIFF_BYTES:
            self._head += chunk[: mime.SNIFF_BYTES - len(self._head)]
        self._scan.feed(chunk)

    def finish(self, filename: str) -> tuple[Verdict, BlobFacts]:
        """End the stream: the scanner's verdict and what the bytes are."""
        verdict = self._scan.finish()
        self.finished = True
        mime_type = mime.sniff(bytes(self._head), filename)
        facts = BlobFacts(
            size_bytes=self.size,
            checksum=self._sha.hexdigest(),
            mime_type=mime_type,
            file_type=mime.file_type_of(mime_type),
        )
        return verdict, facts

    def abort(self) -> None:
        """Drop the scanner connection unless the verdict is in; never raises."""
        if not self.finished:
            self._scan.abort()


class Ingest:
    """A ``Digest`` whose bytes are also staged: ``write`` chunks, then ``finish``."""

    def __init__(self, blobs: BlobStore, scanner: Scanner, max_bytes: int,
                 key: str | None = None) -> None:
        self.digest = Digest(scanner, max_bytes)
        try:
            self.staged: StagedBlob = blobs.stage(key)
        except BaseException:
            self.digest.abort()
            raise

    @property
    def size(self) -> int:
        """Bytes taken so far."""
        return self.digest.size

    def write(self, chunk: bytes) -> None:
        """Take the next chunk (413 past the cap) and stage it."""
        self.digest.write(chunk)
        self.staged.write(chunk)

    def finish(self, filename: str) -> tuple[Verdict, BlobFacts]:
        """Close the staged blob, then the verdict and the facts."""
        self.staged.close()
        return self.digest.finish(filename)

    def discard(self) -> None:
        """Drop everything (staged bytes, scanner connection); never raises."""
        self.digest.abort()
        self.staged.discard()
