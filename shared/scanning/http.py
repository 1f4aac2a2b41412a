"""``HttpScanner``: the ``Scanner`` interface over the ClamAV HTTP front (Cloud Run).

In the cloud the functions cannot reach clamd's TCP port, so scanning goes through the front
(``shared.scanfront``) with the same interface as direct clamd:

- ``open_session`` starts one chunked ``POST /scan``. ``feed`` puts chunks on a small
  bounded queue that a background thread drains into the request body (``BodyPump``), so
  the caller's other work (hashing, staging to GCS) overlaps the transfer while memory stays
  bounded by the queue (a few chunks) whatever the file size. ``finish`` waits for the
  front's verdict.
- ``scan_object`` asks the front to read the object itself (``POST /scan/gcs``), so the
  bytes never pass through the function; the front answers the object's SHA-256 and MIME
  type with its verdict, from the same single pass.
- ``ping`` is the front's ``/readyz``.

Failures without a verdict (front unreachable, timeouts, 5xx, verdict ``error``, a refused
token) raise ``ScannerUnavailable``: inline uploads answer 503 and events are retried. The
front's 404 (object or generation gone) is ``NotFound``, 413 ``PayloadTooLarge``, 400
``BadRequest``. For an ``https`` URL every request carries a Google ID token whose audience
is that URL (``IdTokens``: fetched through ``google.oauth2.id_token.fetch_id_token`` and
cached until five minutes before it expires); plain ``http`` (local) sends none.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import google.auth.exceptions
import requests
from google.auth import jwt
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from requests.adapters import HTTPAdapter

from shared import mime
from shared.errors import BadRequest, NotFound, PayloadTooLarge, ScannerUnavailable
from shared.models import BlobFacts, ObjectRef
from shared.scanning.base import ObjectScan, Scanner, ScanSession, Verdict, report
from shared.streaming import BodyPump, PumpAborted, PumpStopped

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
QUEUE_CHUNKS = 4
_REFRESH_MARGIN = 300.0  # fetch a new ID token five minutes before the old one expires
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+")


class IdTokens:
    """A Google ID token for one audience, fetched on first use and cached until near expiry."""

    def __init__(self, audience: str) -> None:
        self.audience = audience
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def header(self) -> dict[str, str]:
        """``{"Authorization": "Bearer ..."}``; ``ScannerUnavailable`` when none can be had."""
        with self._lock:
            if self._token is None or time.time() >= self._expires - _REFRESH_MARGIN:
                try:
                    token = id_token.fetch_id_token(Request(), self.audience)
                    claims = jwt.decode(token, verify=False)
                except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
                    log.error("no ID token for the scanner (%s): %s", self.audience, exc)
                    raise ScannerUnavailable("virus scanner unavailable (no ID token)") from exc
                self._token, self._expires = token, float(claims.get("exp", 0))
            return {"Authorization": f"Bearer {self._token}"}


class HttpScanner(Scanner):
    """Scans through the front at ``url`` (``CLAMAV_SERVICE_URL``)."""

    name = "clamav-front"

    def __init__(self, url: str, timeout: float = 120.0, queue_chunks: int = QUEUE_CHUNKS,
                 tokens: IdTokens | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.queue_chunks = queue_chunks
        self.tokens = tokens or (IdTokens(self.url) if self.url.startswith("https://") else None)
        self.http = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=32)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    def headers(self) -> dict[str, str]:
        """The auth header when the front is https (Cloud Run), none locally."""
        return self.tokens.header() if self.tokens else {}

    def open_session(self) -> ScanSession:
        return HttpScanSession(self)

    def ping(self) -> bool:
        try:
            response = self.http.get(f"{self.url}/readyz", headers=self.headers(), timeout=5)
        except (requests.RequestException, ScannerUnavailable):
            return False
        response.close()
        return response.status_code == 200

    def db_version(self) -> int | None:
        """The front's ``/readyz`` names the database clamd has loaded."""
        try:
            response = self.http.get(f"{self.url}/readyz", headers=self.headers(),
                                     timeout=(CONNECT_TIMEOUT, 30))
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ScannerUnavailable("virus scanner unavailable") from exc
        if response.status_code != 200 or not isinstance(body, dict):
            raise ScannerUnavailable("virus scanner is not ready")
        version = body.get("database_version")
        return version if isinstance(version, int) and version > 0 else None

    def scan_object(self, ref: ObjectRef, filename: str, max_bytes: int) -> ObjectScan:
        """The front reads, hashes, sniffs and scans the object: no byte passes through here."""
        body = {"bucket": ref.bucket, "name": ref.name, "generation": ref.generation,
                "filename": filename}
        started = time.monotonic()
        try:
            response = self.http.post(f"{self.url}/scan/gcs", json=body,
                                      headers=self.headers(),
                                      timeout=(CONNECT_TIMEOUT, self.timeout))
        except requests.RequestException as exc:
            log.error("virus scanner front unreachable: %s", exc)
            raise ScannerUnavailable("virus scanner unavailable") from exc
        verdict = verdict_of(response)
        report(verdict, verdict.bytes_scanned, int((time.monotonic() - started) * 1000))
        if verdict.bytes_scanned > max_bytes:
            raise PayloadTooLarge(f"the object is larger than {max_bytes} bytes",
                                  max_bytes=max_bytes)
        return ObjectScan(verdict, facts_of(response.json(), verdict.bytes_scanned))


def facts_of(body: dict[str, Any], size: int) -> BlobFacts:
    """The SHA-256 and MIME type the front learned in its scan pass; 503 when missing."""
    checksum, mime_type = body.get("sha256"), body.get("mime_type")
    if not (isinstance(checksum, str) and _SHA256.fullmatch(checksum)
            and isinstance(mime_type, str) and _MIME.fullmatch(mime_type)):
        log.error("virus scanner front gave no digest: %s", str(body)[:200])
        raise ScannerUnavailable("virus scanner gave no checksum for the object")
    return BlobFacts(size, checksum, mime_type, mime.file_type_of(mime_type))


def verdict_of(response: requests.Response, expected_bytes: int | None = None) -> Verdict:
    """The front's answer as a ``Verdict``, or the error it stands for."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    message = body.get("error") if isinstance(body, dict) else None
    if status == 404:
        raise NotFound(str(message or "object not found at that generation"))
    if status == 413:
        raise PayloadTooLarge(str(message or "file exceeds the scanner's limit"))
    if status == 400:
        raise BadRequest(str(message or "the scanner refused the request"))
    if status != 200 or not isinstance(body, dict):
        if status in (401, 403):
            log.error("the virus scanner front refused our ID token (%d): %s", status, message)
        else:
            log.error("virus scanner front answered %d: %s", status, message)
        raise ScannerUnavailable("virus scanner unavailable")
    verdict, scanned = body.get("verdict"), body.get("bytes_scanned")
    if verdict not in ("clean", "infected") or not isinstance(scanned, int):
        log.error("virus scanner front gave no verdict: %s", str(body)[:200])
        raise ScannerUnavailable("virus scanner could not scan the file")
    if expected_bytes is not None and scanned != expected_bytes:
        log.error("virus scanner front scanned %d bytes of %d", scanned, expected_bytes)
        raise ScannerUnavailable("virus scanner saw a different byte count")
    engine = body.get("engine") if isinstance(body.get("engine"), str) else None
    db_version = body.get("db_version")
    db_version = db_version if isinstance(db_version, int) and db_version > 0 else None
    if verdict == "infected":
        return Verdict(infected=True, signature=str(body.get("signature") or "unknown"),
                       bytes_scanned=scanned, engine=engine, db_version=db_version)
    return Verdict(infected=False, bytes_scanned=scanned, engine=engine, db_version=db_version)


class HttpScanSession(ScanSession):
    """One chunked ``POST /scan``: ``feed`` queues, a ``BodyPump`` streams, ``finish`` waits."""

    def __init__(self, scanner: HttpScanner) -> None:
        self._scanner = scanner
        self._timeout = scanner.timeout
        # One connection per scan, closed after it: a scan the front ends early (413, 503)
        # leaves the connection mid-body, and a pooled reuse would send the next request
        # into the old body.
        headers = {**scanner.headers(), "Content-Type": "application/octet-stream",
                   "Connection": "close"}

        def send(body: Iterator[bytes]) -> requests.Response:
            return scanner.http.post(f"{scanner.url}/scan", data=body, headers=headers,
                                     timeout=(CONNECT_TIMEOUT, self._timeout))

        self._pump: BodyPump[requests.Response] = BodyPump(
            send, depth=scanner.queue_chunks, idle_timeout=self._timeout,
            name="http-scan").start()
        self._bytes = 0
        self._closed = False

    def _fail(self) -> NoReturn:
        """The request ended before the body did: its answer, or unavailability."""
        self._closed = True
        if self._pump.result is not None:  # the front answered early (413, 503 ...)
            verdict_of(self._pump.result, expected_bytes=-1)  # raises, whatever it says
        log.error("virus scanner front connection failed: %s", self._pump.error)
        raise ScannerUnavailable("virus scanner connection lost") from self._pump.error

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        assert not self._closed, "session is finished"
        try:
            # Queued, not sent yet: a caller may reuse a bytearray or memoryview's buffer.
            self._pump.put(chunk if isinstance(chunk, bytes) else bytes(chunk))
        except PumpStopped:
            self._fail()
        self._bytes += len(chunk)

    def submit(self) -> None:
        if not self._closed:
            self._pump.end()

    def finish(self) -> Verdict:
        assert not self._closed, "session is finished"
        self._closed = True
        try:
            response = self._pump.finish(timeout=CONNECT_TIMEOUT + 2 * self._timeout)
        except TimeoutError as exc:
            raise ScannerUnavailable("virus scanner timed out") from exc
        except (requests.RequestException, OSError, PumpAborted) as exc:
            log.error("virus scanner front connection failed: %s", exc)
            raise ScannerUnavailable("virus scanner connection lost") from exc
        return verdict_of(response, expected_bytes=self._bytes)

    def abort(self) -> None:
        self._closed = True
        self._pump.abort()
