"""The scanner interface: ``Scanner`` opens ``ScanSession``s that are fed bytes as they stream.

A session is fed while the upload is still arriving, so the verdict is ready when the last
byte is, with no second pass and no buffering. Every backend (direct clamd, the Cloud Run
HTTP front, disabled) implements ``open_session`` and ``ping``; ``scan_stream`` is built on them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import BinaryIO

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
