"""``ScanFront``: the logic of the ClamAV HTTP front (Cloud Run service ``clamav``).

Cloud Run accepts only HTTP and gRPC, so the functions cannot reach clamd's TCP port; the
front runs beside clamd in one container and speaks INSTREAM to it on localhost through the
same ``ClamdScanner`` the embedded default uses. It scans either a request body, streamed
chunk by chunk into the clamd session, or one pinned generation of a GCS object, streamed
from GCS the same way (``GcsObjects``), so memory stays flat whatever the size. Both go
through a ``Digest``: the same pass that scans also hashes (SHA-256) and sniffs the MIME type,
which is what lets the finalize function register a direct upload without reading a byte.

Every scan answers a ``ScanResult``: ``{verdict: clean|infected|error, signature,
bytes_scanned, duration_ms, sha256, mime_type, engine, db_version}`` (the engine and the
signature database version clamd reported just before the scan, for the scan record).
``respond`` maps outcomes to HTTP statuses in one place:
clean or infected → 200; no verdict (clamd down, GCS unavailable) → 503 with verdict
``error``; everything else is a ``WorkspaceError`` with its usual status (object or
generation gone → 404, too large → 413, bad input → 400) and an ``{"error": ...}`` body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

import pyclamd

from shared.errors import (
    BackendUnavailable,
    BadRequest,
    PayloadTooLarge,
    ScannerUnavailable,
)
from shared.jsonbody import get_str, parse_json_object
from shared.models import ObjectRef
from shared.scanfront.auth import IdTokenVerifier
from shared.scanfront.settings import FrontSettings
from shared.scanning.base import SCAN_READ_BYTES, ObjectScan, ingress
from shared.scanning.clamd import ClamdScanner, parse_version
from shared.scanning.digest import Digest
from shared.storage.gcs.connection import READ_ONLY, GcsConnection
from shared.storage.gcs.objects import GcsObjects

log = logging.getLogger(__name__)

GCS_FIELDS = {"bucket", "name", "generation", "filename"}
GCS_BODY_MAX = 16 * 1024  # a name is at most 1024 bytes, even \u-escaped this is plenty
_DIGITS = re.compile(r"[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class ScanResult:
    """What a scan answers; ``verdict`` is clean, infected or error."""

    verdict: str
    signature: str | None
    bytes_scanned: int
    duration_ms: int
    sha256: str | None = None
    mime_type: str | None = None
    engine: str | None = None
    db_version: int | None = None

    @classmethod
    def of(cls, scan: ObjectScan, started: float) -> ScanResult:
        """The result of a scan that began at ``started``."""
        verdict, facts = scan.verdict, scan.facts
        return cls("infected" if verdict.infected else "clean",
                   verdict.signature if verdict.infected else None,
                   facts.size_bytes, _ms_since(started), facts.checksum, facts.mime_type,
                   verdict.engine, verdict.db_version)

    def to_api(self) -> dict[str, Any]:
        """The JSON body."""
        return asdict(self)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def parse_generation(value: object) -> int:
    """A generation: a JSON integer, or GCS's own encoding of int64 as a decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise BadRequest("'generation' must be a positive integer (or its decimal string)")


class ScanFront:
    """Scans bodies and GCS objects with the local clamd; checks callers and readiness."""

    def __init__(self, settings: FrontSettings, scanner: ClamdScanner | None = None,
                 objects: GcsObjects | None = None) -> None:
        self.settings = settings
        self.max_bytes = settings.max_file_size_bytes
        self._objects = objects
        self.scanner = scanner or ClamdScanner(settings.clamav_service_host,
                                               settings.clamav_service_port,
                                               settings.clamav_timeout_seconds)
        self.scanner.objects = lambda ref, cap: self.objects.open(ref, cap)
        self.verifier = IdTokenVerifier(settings.audiences, settings.allowed_invokers,
                                        settings.certs_url) if settings.auth != "none" else None

    @property
    def objects(self) -> GcsObjects:
        """GCS reads, built on the first ``/scan/gcs`` (a body-only front never needs them)."""
        if self._objects is None:
            self._objects = GcsObjects(GcsConnection.from_settings(self.settings, READ_ONLY))
        return self._objects

    def authorize(self, authorization: str | None) -> str | None:
        """The caller's email; 401 when ID-token auth is on and the caller is not allowed."""
        return self.verifier.verify(authorization) if self.verifier else None

    def scan_body(self, stream: BinaryIO, content_length: int | None) -> ScanResult:
        """Scan (and hash, and sniff) a request body as it streams in; 413 past the cap."""
        if content_length is not None and content_length > self.max_bytes:
            raise PayloadTooLarge(f"the body is larger than {self.max_bytes} bytes",
                                  max_bytes=self.max_bytes)
        started = time.monotonic()
        digest = Digest(self.scanner, self.max_bytes)
        try:
            while True:
                try:
                    chunk = stream.read(SCAN_READ_BYTES)
                except OSError as exc:  # the client went away mid-body
                    raise BadRequest("the request body ended early") from exc
                if not chunk:
                    break
                digest.write(chunk)
            if content_length is not None and digest.size != content_length:
                raise BadRequest("the request body ended early")
            with ingress("front:body"):
                verdict, facts = digest.finish("")
        finally:
            digest.abort()
        return ScanResult.of(ObjectScan(verdict, facts), started)

    def scan_gcs(self, stream: BinaryIO, content_length: int | None,
                 content_type: str | None) -> ScanResult:
        """Scan the object a strict JSON body ``{bucket, name, generation, filename?}`` names.

        ``filename`` (optional) helps the MIME sniff where content alone is ambiguous.
        """
        if content_length is not None and content_length > GCS_BODY_MAX:
            raise PayloadTooLarge(f"the body is larger than {GCS_BODY_MAX} bytes")
        try:
            raw = stream.read(GCS_BODY_MAX + 1)
        except OSError as exc:
            raise BadRequest("the request body ended early") from exc
        body = parse_json_object(raw, content_type, GCS_FIELDS, GCS_BODY_MAX)
        bucket = get_str(body, "bucket", required=True)
        name = get_str(body, "name", required=True)
        filename = get_str(body, "filename") or ""
        if "generation" not in body:
            raise BadRequest("'generation' is required")
        generation = parse_generation(body["generation"])
        assert bucket is not None and name is not None
        started = time.monotonic()
        with ingress("front:gcs"):
            scan = self.scanner.scan_object(ObjectRef(bucket, name, generation),
                                            filename or name.rsplit("/", 1)[-1],
                                            self.max_bytes)
        return ScanResult.of(scan, started)

    def respond(self, scan: Callable[[], ScanResult]) -> tuple[dict[str, Any], int]:
        """Run a scan: 200 with a verdict, 503 with verdict ``error`` when none could be had.

        Other errors (400, 404, 413 ...) propagate for the HTTP layer to map.
        """
        started = time.monotonic()
        try:
            return scan().to_api(), 200
        except (ScannerUnavailable, BackendUnavailable) as exc:
            log.error("scan failed without a verdict: %s", exc.message)
            body = ScanResult("error", None, 0, _ms_since(started)).to_api()
            return {**body, "error": exc.message}, 503

    def readiness(self) -> tuple[dict[str, Any], int]:
        """200 when clamd answers and has a signature database loaded; 503 otherwise.

        clamd refuses to start without signatures, and ``STATS`` reports the engine state.
        ``VERSION`` names the official database version (``/27432/date``) once freshclam
        has fetched one; ``CLAMAV_FRONT_REQUIRE_DB_VERSION`` (on by default on Cloud Run)
        requires it, so a container serving only local test signatures is never ready.
        """
        host, port = self.settings.clamav_service_host, self.settings.clamav_service_port
        try:
            client = pyclamd.ClamdNetworkSocket(host, port, timeout=2.0)
            client.ping()
            version = client.version().strip("\0\n ")
            stats = client.stats()
        except (pyclamd.ConnectionError, OSError, ValueError) as exc:
            log.warning("readiness: clamd does not answer: %s", exc)
            return {"ready": False, "error": "clamd does not answer"}, 503
        parsed = parse_version(version)
        if parsed is None:
            return {"ready": False, "error": "clamd answered VERSION oddly"}, 503
        info: dict[str, Any] = {"engine": parsed.engine, "database_version": parsed.db_version,
                                "database_date": parsed.db_date}
        if "STATE: VALID" not in stats:
            return {"ready": False, "error": "clamd has no valid signature database",
                    **info}, 503
        if self.settings.require_db_version and info["database_version"] is None:
            return {"ready": False, "error": "no official signature database loaded yet",
                    **info}, 503
        return {"ready": True, **info}, 200

