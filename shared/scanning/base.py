"""The scanner interface: ``Scanner`` opens ``ScanSession``s that are fed bytes as they stream.

A session is fed while the upload is still arriving, so the verdict is ready when the last
byte is, with no second pass and no buffering. Every backend (direct clamd, the Cloud Run
HTTP front, disabled) implements ``open_session`` and ``ping``; ``scan_stream`` is built on them.
``scan_gcs_object`` scans one pinned generation of a GCS object: by default it streams the
object through ``open_session`` (direct clamd), and the HTTP front's client overrides it so
the front reads the object itself and the bytes never pass through the caller.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from shared.scanning.gcs_source import GcsObjectReader

SCAN_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    """A scanner's answer. ``signature`` is set when ``infected``."""

    infected: bool
    signature: str | None = None
    bytes_scanned: int = 0


class ScanSession(abc.ABC):
    """One object being scanned: ``feed`` it every chunk, then ``finish`` for the verdict."""

    @abc.abstractmethod
    def feed(self, chunk: bytes) -> None:
        """Send the next bytes; raises ``ScannerUnavailable`` when the scanner is gone."""

    @abc.abstractmethod
    def finish(self) -> Verdict:
        """End the stream and wait for the verdict."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Give up without a verdict (the upload failed); never raises."""

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class Scanner(abc.ABC):
    """A virus scanner reachable from this process."""

    name: str = "scanner"
    enabled: bool = True

    @abc.abstractmethod
    def open_session(self) -> ScanSession:
        """Start scanning one object; raises ``ScannerUnavailable`` when unreachable."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the scanner answers right now (health checks)."""

    def scan_stream(self, stream: BinaryIO, chunk_size: int = SCAN_CHUNK) -> Verdict:
        """Scan a whole file-like object in chunks, without reading it into memory."""
        with self.open_session() as session:
            while chunk := stream.read(chunk_size):
                session.feed(chunk)
            return session.finish()

    def scan_gcs_object(self, bucket: str, name: str, generation: int, *,
                        max_bytes: int | None = None,
                        source: GcsObjectReader | None = None) -> Verdict:
        """Scan exactly ``generation`` of ``gs://bucket/name``.

        Raises ``NotFound`` when that generation is gone, ``PayloadTooLarge`` over
        ``max_bytes`` and ``ScannerUnavailable`` without a verdict. ``source`` defaults to
        the factory's GCS reader (the service's settings).
        """
        if source is None:
            from shared import factory  # local import: the factory builds scanners

            source = factory.gcs_object_reader()
        with source.open(bucket, name, generation, max_bytes=max_bytes) as stream:
            return self.scan_stream(stream)
