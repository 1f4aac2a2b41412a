"""``Ingest``: a ``Digest`` whose bytes are also staged in the blob store.

Inline uploads and media inputs take bytes through this: one streaming pass limits, hashes,
sniffs and scans them (``shared.scanning.digest``) while they are staged where nothing serves
them; only a clean verdict lets them be promoted. Memory is bounded by the chunk size.
"""

from __future__ import annotations

from shared.models import BlobFacts
from shared.scanning.base import Scanner, Verdict
from shared.scanning.digest import Digest
from shared.storage.base import BlobStore, StagedBlob


class Ingest:
    """``write`` chunks, then ``finish``; ``discard`` drops everything on any failure."""

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
        """End the scanner's stream, close (flush) the staged blob while it scans, then the
        verdict and the facts. The flush is an fsync here and the last upload request on
        GCS: waits that used to come before the scan now overlap it."""
        self.digest.submit()
        self.staged.close()
        return self.digest.finish(filename)

    def discard(self) -> None:
        """Drop everything (staged bytes, scanner connection); never raises."""
        self.digest.abort()
        self.staged.discard()
