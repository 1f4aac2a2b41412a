"""``HttpScanner``: the ``Scanner`` interface over the ClamAV HTTP front (Cloud Run).

In the cloud the functions cannot reach clamd's TCP port, so scanning goes through the front
(``functions/clamav_front.py``) with the same interface as direct clamd:

- ``open_session`` starts one chunked ``POST /scan``. ``feed`` puts chunks on a small
  bounded queue that a background thread drains into the request body, so the caller's
  other work (hashing, staging to GCS) overlaps the transfer while memory stays bounded by
  the queue (a few chunks) whatever the file size. ``finish`` waits for the front's verdict.
- ``scan_gcs_object`` asks the front to read the object itself (``POST /scan/gcs``), so the
  bytes never pass through the function.
- ``ping`` is the front's ``/readyz``.

Failures without a verdict (front unreachable, timeouts, 5xx, verdict ``error``, a refused
token) raise ``ScannerUnavailable``: inline uploads answer 503 and events are retried. The
front's 404 (object or generation gone) is ``NotFound``, 413 ``PayloadTooLarge``, 400
``BadRequest``. For an ``https`` URL every request carries a Google ID token whose audience
is that URL (``IdTokens``: fetched through ``google.oauth2.id_token.fetch_id_token`` and
cached until five minutes before it expires); plain ``http`` (local) sends none.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import google.auth.exceptions
import requests
from google.auth import jwt
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from requests.adapters import HTTPAdapter

from shared.errors import BadRequest, NotFound, PayloadTooLarge, ScannerUnavailable
from shared.scanning.base import Scanner, ScanSession, Verdict
from shared.scanning.gcs_source import GcsObjectReader

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
QUEUE_CHUNKS = 4
_REFRESH_MARGIN = 300.0  # fetch a new ID token five minutes before the old one expires
_END = object()


class _Aborted(Exception):
    """Raised inside the request body to cut the upload short."""


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

    def scan_gcs_object(self, bucket: str, name: str, generation: int, *,
                        max_bytes: int | None = None,
                        source: GcsObjectReader | None = None) -> Verdict:
        """The front reads and scans the object; ``source`` is unused (no bytes pass here)."""
        body = {"bucket": bucket, "name": name, "generation": generation}
        try:
            response = self.http.post(f"{self.url}/scan/gcs", json=body,
                                      headers=self.headers(),
                                      timeout=(CONNECT_TIMEOUT, self.timeout))
        except requests.RequestException as exc:
            log.error("virus scanner front unreachable: %s", exc)
            raise ScannerUnavailable("virus scanner unavailable") from exc
        verdict = verdict_of(response)
        if max_bytes is not None and verdict.bytes_scanned > max_bytes:
            raise PayloadTooLarge(f"the object is larger than {max_bytes} bytes",
                                  max_bytes=max_bytes)
        return verdict


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
    if verdict == "infected":
        return Verdict(infected=True, signature=str(body.get("signature") or "unknown"),
                       bytes_scanned=scanned)
    return Verdict(infected=False, bytes_scanned=scanned)


class HttpScanSession(ScanSession):
    """One chunked ``POST /scan``: ``feed`` queues, a thread streams, ``finish`` waits."""

    def __init__(self, scanner: HttpScanner) -> None:
        self._scanner = scanner
        self._timeout = scanner.timeout
        # One connection per scan, closed after it: a scan the front ends early (413, 503)
        # leaves the connection mid-body, and a pooled reuse would send the next request
        # into the old body.
        headers = {**scanner.headers(), "Content-Type": "application/octet-stream",
                   "Connection": "close"}
        self._queue: queue.Queue[object] = queue.Queue(maxsize=scanner.queue_chunks)
        self._bytes = 0
        self._response: requests.Response | None = None
        self._error: BaseException | None = None
        self._aborted = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(headers,), daemon=True,
                                        name="http-scan")
        self._thread.start()

    # -- the background thread ------------------------------------------------------------

    def _body(self) -> Iterator[bytes]:
        while True:
            try:
                item = self._queue.get(timeout=self._timeout)
            except queue.Empty:
                raise _Aborted("no bytes arrived in time") from None
            if item is _END:
                return
            if self._aborted.is_set():
                raise _Aborted("aborted")
            assert isinstance(item, bytes)
            yield item

    def _run(self, headers: dict[str, str]) -> None:
        try:
            self._response = self._scanner.http.post(
                f"{self._scanner.url}/scan", data=self._body(), headers=headers,
                timeout=(CONNECT_TIMEOUT, self._timeout))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._error = exc

    # -- the caller's side ----------------------------------------------------------------

    def _put(self, item: object) -> None:
        while True:
            if not self._thread.is_alive():
                self._fail()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fail(self) -> None:
        """The request ended before the body did: its answer, or unavailability."""
        self._closed = True
        if self._response is not None:  # the front answered early (413, 503 ...)
            verdict_of(self._response, expected_bytes=-1)  # raises, whatever it says
        log.error("virus scanner front connection failed: %s", self._error)
        raise ScannerUnavailable("virus scanner connection lost") from self._error

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        assert not self._closed, "session is finished"
        # Queued, not sent yet: a caller may reuse a bytearray or memoryview's buffer.
        self._put(chunk if isinstance(chunk, bytes) else bytes(chunk))
        self._bytes += len(chunk)

    def finish(self) -> Verdict:
        assert not self._closed, "session is finished"
        self._put(_END)
        self._thread.join(timeout=CONNECT_TIMEOUT + 2 * self._timeout)
        self._closed = True
        if self._thread.is_alive():
            self.abort()
            raise ScannerUnavailable("virus scanner timed out")
        if self._response is None:
            log.error("virus scanner front connection failed: %s", self._error)
            raise ScannerUnavailable("virus scanner connection lost") from self._error
        return verdict_of(self._response, expected_bytes=self._bytes)

    def abort(self) -> None:
        self._closed = True
        if not self._thread.is_alive() or self._aborted.is_set():
            return
        self._aborted.set()
        with contextlib.suppress(queue.Empty):  # make room, then wake the thread
            while True:
                self._queue.get_nowait()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(b"")
