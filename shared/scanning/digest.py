"""``Digest``: one pass over bytes that limits, hashes, sniffs and scans them.

Every way bytes enter the service (multipart uploads, media inputs, the finalize scan of a
direct upload, wherever that scan runs) goes through a ``Digest``, so the size cap, the
checksum and the verdict are computed the same way everywhere, in a single streaming pass
with memory bounded by the chunk size. It keeps nothing: staging is ``shared.files.ingest``.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from shared import mime
from shared.errors import PayloadTooLarge
from shared.models import BlobFacts

if TYPE_CHECKING:
    from shared.scanning.base import Scanner, ScanSession, Verdict


class Digest:
    """Feed it chunks (``write``), then ``finish`` for the verdict and the facts."""

    def __init__(self, scanner: Scanner, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()
        self._head = bytearray()
        self._started = time.monotonic()
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

    def submit(self) -> None:
        """End the scanner's stream now: it scans while the caller goes on (``finish``
        waits for the verdict). Ingest flushes the staged bytes meanwhile."""
        self._scan.submit()

    def finish(self, filename: str) -> tuple[Verdict, BlobFacts]:
        """End the stream: the scanner's verdict and what the bytes are (and its log line).

        The MIME sniff runs after the stream has ended and before the verdict is read, so
        its CPU time overlaps the scanner's work instead of adding to it."""
        from shared.scanning.base import report  # base builds on this module

        self._scan.submit()
        mime_type = mime.sniff(bytes(self._head), filename)
        verdict = self._scan.finish()
        self.finished = True
        report(verdict, self.size, int((time.monotonic() - self._started) * 1000))
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
