"""The scanner interface: ``Scanner`` opens ``ScanSession``s that are fed bytes as they stream.

A session is fed while the upload is still arriving, so the verdict is ready when the last
byte is, with no second pass and no buffering. Every backend (direct clamd, the Cloud Run
HTTP front, disabled) implements ``open_session`` and ``ping``; ``scan_stream`` is built on them.

``scan_object`` scans one pinned generation of a stored object (a direct upload) and learns
its SHA-256 and MIME type in the same pass (``ObjectScan``). By default it streams the object
through a ``Digest`` read with the ``ObjectOpener`` given at construction; the HTTP front's
client overrides it so the front reads the object itself and no byte passes through the caller.

A ``Verdict`` names the engine and signature database version that gave it (clamd's
``VERSION``, asked before the scan, so a reload during the scan never makes a record claim
newer signatures than it had); ``Verdict.record`` is the scan record stored on a file
version. ``report`` writes the one structured log line of each scan, tagged with the
ingress the caller declared (``ingress``).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from shared.errors import ConfigError
from shared.models import BlobFacts, ObjectRef

SCAN_READ_BYTES = 1024 * 1024  # what a scan reads from a stream at a time
scan_log = logging.getLogger("workspace.scan")
_INGRESS: contextvars.ContextVar[str] = contextvars.ContextVar("scan_ingress", default="other")

# Opens exactly one object generation for reading: 404 when gone, 413 over ``max_bytes``.
ObjectOpener = Callable[[ObjectRef, int | None], BinaryIO]


@dataclass(frozen=True)
class Verdict:
    """A scanner's answer. ``signature`` is set when ``infected``."""

    infected: bool
    signature: str | None = None
    bytes_scanned: int = 0
    engine: str | None = None  # "ClamAV 1.4.6", "disabled"
    db_version: int | None = None  # the signature database version (None: not versioned)

    @property
    def label(self) -> str:
        """``clean``, ``infected``, or ``unscanned`` (scanning disabled)."""
        if self.infected:
            return "infected"
        return "unscanned" if self.engine == "disabled" else "clean"

    def record(self, scanned_at: str) -> dict[str, Any]:
        """The scan record stored on a file version: ``{verdict, signature?, engine,
        db_version, scanned_at, bytes}``."""
        out: dict[str, Any] = {"verdict": self.label, "engine": self.engine,
                               "db_version": self.db_version, "scanned_at": scanned_at,
                               "bytes": self.bytes_scanned}
        if self.infected:
            out["signature"] = self.signature or "unknown"
        return out


@contextlib.contextmanager
def ingress(label: str) -> Iterator[None]:
    """Scans inside this block are reported as coming through ``label`` (upload, media,
    direct_upload, rescan, front)."""
    token = _INGRESS.set(label)
    try:
        yield
    finally:
        _INGRESS.reset(token)


def report(verdict: Verdict, size: int, duration_ms: int) -> None:
    """The one structured log line of a scan (never a name, path or byte of content)."""
    fields = {"event": "scan", "verdict": verdict.label, "bytes": size,
              "duration_ms": duration_ms, "engine": verdict.engine,
              "db_version": verdict.db_version, "ingress": _INGRESS.get()}
    scan_log.info("scan %s: %d bytes in %d ms (%s, db %s, via %s)", verdict.label, size,
                  duration_ms, verdict.engine, verdict.db_version, fields["ingress"],
                  extra={"json_fields": fields})


@dataclass(frozen=True)
class ObjectScan:
    """The verdict on a stored object and what its bytes are (size, SHA-256, MIME type)."""

    verdict: Verdict
    facts: BlobFacts


class ScanSession(abc.ABC):
    """One object being scanned: ``feed`` it every chunk, then ``finish`` for the verdict."""

    @abc.abstractmethod
    def feed(self, chunk: bytes) -> None:
        """Send the next bytes; raises ``ScannerUnavailable`` when the scanner is gone."""

    def submit(self) -> None:
        """End the stream without waiting for the verdict, so the caller's own work (the
        staged bytes' flush, the MIME sniff) overlaps the scan; ``finish`` then waits. A
        session that cannot end early leaves it to ``finish``. Errors surface in ``finish``."""
        return None  # by default finish ends the stream

    @abc.abstractmethod
    def finish(self) -> Verdict:
        """End the stream (unless ``submit`` did) and wait for the verdict."""

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
    objects: ObjectOpener | None = None  # how ``scan_object`` reads stored objects

    @abc.abstractmethod
    def open_session(self) -> ScanSession:
        """Start scanning one object; raises ``ScannerUnavailable`` when unreachable."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the scanner answers right now (health checks)."""

    def db_version(self) -> int | None:
        """The signature database version the scanner has loaded now (None: unversioned or
        no scanning); ``ScannerUnavailable`` when it does not answer."""
        return None

    def scan_stream(self, stream: BinaryIO, chunk_size: int = SCAN_READ_BYTES) -> Verdict:
        """Scan a whole file-like object in chunks, without reading it into memory."""
        with self.open_session() as session:
            while chunk := stream.read(chunk_size):
                session.feed(chunk)
            return session.finish()

    def scan_object(self, ref: ObjectRef, filename: str, max_bytes: int) -> ObjectScan:
        """Scan exactly ``ref``'s generation; its verdict, size, SHA-256 and MIME type.

        Raises ``NotFound`` when that generation is gone, ``PayloadTooLarge`` over
        ``max_bytes`` and ``ScannerUnavailable`` without a verdict.
        """
        from shared.scanning.digest import Digest  # digest builds on this module

        if self.objects is None:
            raise ConfigError(f"the {self.name} scanner has no reader for stored objects")
        with self.objects(ref, max_bytes) as stream:
            digest = Digest(self, max_bytes)
            try:
                while chunk := stream.read(SCAN_READ_BYTES):
                    digest.write(chunk)
                verdict, facts = digest.finish(filename)
            finally:
                digest.abort()
        return ObjectScan(verdict, facts)
