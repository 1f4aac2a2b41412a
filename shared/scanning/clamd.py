"""``ClamdScanner``: clamd's INSTREAM protocol through pyclamd, wrapped to be safe.

pyclamd (the library the user asked for) is unmaintained: it writes with ``socket.send``,
which may send only part of a frame, and reads fixed 4 KiB chunks. ``_FullSendSocket`` makes
every send a ``sendall``, and ``ClamdSession`` sends large frames as the upload streams in,
reusing pyclamd's connection setup and response parsing. A file larger than the socket
buffer therefore arrives at clamd whole (``tests/test_scanner.py`` proves it).

Each session first asks clamd's ``VERSION`` (``ScannerVersion``: the engine and the signature
database version), so its verdict says which signatures judged the bytes.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
import struct
from dataclasses import dataclass
from typing import Any, NoReturn

import pyclamd

from shared.errors import PayloadTooLarge, ScannerUnavailable
from shared.scanning.base import ObjectOpener, Scanner, ScanSession, Verdict

log = logging.getLogger(__name__)

_END = struct.pack("!L", 0)
_SIZE_LIMIT = "INSTREAM size limit exceeded"
# "ClamAV 1.4.6/27432/Tue Oct  1 08:32:09 2024": engine / database version / database date.
_VERSION = re.compile(r"(ClamAV [^/]+)(?:/(\d+)/(.+))?")


@dataclass(frozen=True)
class ScannerVersion:
    """What clamd's ``VERSION`` says: the engine, and the database version and date (None
    when only unversioned signature files are loaded)."""

    engine: str
    db_version: int | None
    db_date: str | None


def parse_version(text: str) -> ScannerVersion | None:
    """``VERSION``'s answer, or None when it is not one."""
    match = _VERSION.fullmatch(text.strip("\0\n "))
    if match is None:
        return None
    return ScannerVersion(match.group(1), int(match.group(2) or 0) or None, match.group(3))


class _FullSendSocket:
    """A socket whose ``send`` sends everything (``sendall``); other calls pass through."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Clamd(pyclamd.ClamdNetworkSocket):
    """pyclamd's network client without its eager test connection, with full sends."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        pyclamd.pyclamd._ClamdGeneric.__init__(self)
        self.host, self.port, self.timeout = host, port, timeout

    def _init_socket(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout)
            sock.connect(address)
        except OSError as exc:
            raise pyclamd.ConnectionError(f"could not reach clamd: {exc}") from exc
        self.clamd_socket = _FullSendSocket(sock)

    def read_reply(self) -> str:
        """Read clamd's whole reply (it closes the stream after an INSTREAM answer)."""
        chunks: list[bytes] = []
        while True:
            data = self.clamd_socket.recv(65536)
            if not data:
                break
            chunks.append(data)
            if data.endswith(b"\n") or data.endswith(b"\0"):
                break
        return b"".join(chunks).decode("utf-8", "replace").strip("\0\n ")


class ClamdSession(ScanSession):
    """One INSTREAM conversation; frames are sent as ``feed`` is called."""

    def __init__(self, client: _Clamd, version: ScannerVersion | None = None) -> None:
        self._client = client
        self._version = version
        self._bytes = 0
        self._done = False
        self._submitted = False
        self._send_error: OSError | None = None
        try:
            client._init_socket()
            client._send_command("INSTREAM")
        except (pyclamd.ConnectionError, OSError) as exc:
            self._close()
            raise ScannerUnavailable("virus scanner unavailable") from exc

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        sock = self._client.clamd_socket
        try:
            # clamd only speaks mid-stream to refuse it (size limit): listen before sending.
            if select.select([sock], [], [], 0)[0]:
                self._fail(self._client.read_reply(), None)
            sock.send(struct.pack("!L", len(chunk)) + chunk)
        except OSError as exc:
            self._fail(self._reply_after_failure(), exc)
        self._bytes += len(chunk)

    def submit(self) -> None:
        if self._submitted or self._done:
            return
        self._submitted = True
        try:
            self._client.clamd_socket.send(_END)
        except OSError as exc:  # finish reports it, with whatever clamd said
            self._send_error = exc

    def finish(self) -> Verdict:
        try:
            self.submit()
            if self._send_error is not None:
                raise self._send_error
            reply = self._client.read_reply()
        except OSError as exc:
            self._fail(self._reply_after_failure(), exc)
        finally:
            self._close()
        return self._verdict(reply)

    def _fail(self, reply: str, cause: BaseException | None) -> NoReturn:
        self._close()
        if _SIZE_LIMIT in reply:
            raise PayloadTooLarge("file exceeds the scanner's stream limit") from cause
        raise ScannerUnavailable("virus scanner connection lost") from cause

    def abort(self) -> None:
        self._close()

    def _verdict(self, reply: str) -> Verdict:
        if not reply:
            raise ScannerUnavailable("virus scanner gave no answer")
        if _SIZE_LIMIT in reply:
            raise PayloadTooLarge("file exceeds the scanner's stream limit")
        try:
            _, reason, status = self._client._parse_response(reply)
        except (IndexError, ValueError) as exc:
            raise ScannerUnavailable("virus scanner gave a malformed answer") from exc
        engine = self._version.engine if self._version else None
        db_version = self._version.db_version if self._version else None
        if status == "OK":
            return Verdict(infected=False, bytes_scanned=self._bytes, engine=engine,
                           db_version=db_version)
        if status == "FOUND":
            return Verdict(infected=True, signature=reason, bytes_scanned=self._bytes,
                           engine=engine, db_version=db_version)
        log.error("clamd returned an error verdict: %s", reply[:200])
        raise ScannerUnavailable("virus scanner could not scan the file")

    def _reply_after_failure(self) -> str:
        try:
            return self._client.read_reply()
        except OSError:
            return ""

    def _close(self) -> None:
        if self._done:
            return
        self._done = True
        sock = getattr(self._client, "clamd_socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


class ClamdScanner(Scanner):
    """Talks to clamd over TCP (``CLAMAV_SERVICE_HOST``:``CLAMAV_SERVICE_PORT``)."""

    name = "clamd"

    def __init__(self, host: str, port: int, timeout: float = 120.0,
                 objects: ObjectOpener | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.objects = objects

    def _client(self, timeout: float | None = None) -> _Clamd:
        return _Clamd(self.host, self.port, timeout or self.timeout)

    def open_session(self) -> ScanSession:
        # The verdict needs INSTREAM, not VERSION: without an answer to VERSION the record
        # names no database (so the rescan job takes the file again), the scan goes on.
        try:
            version: ScannerVersion | None = self.version()
        except ScannerUnavailable:
            log.debug("clamd did not answer VERSION; the scan record names no database")
            version = None
        return ClamdSession(self._client(), version)

    def db_version(self) -> int | None:
        return self.version().db_version

    def version(self) -> ScannerVersion:
        """clamd's engine and signature database version, asked now (never cached: a
        ``RELOAD`` changes it); ``ScannerUnavailable`` when clamd does not answer."""
        client = self._client(timeout=min(self.timeout, 10.0))
        try:
            client._init_socket()
            client._send_command("VERSION")
            found = parse_version(client.read_reply())
        except (pyclamd.ConnectionError, OSError) as exc:
            raise ScannerUnavailable("virus scanner unavailable") from exc
        finally:
            sock = getattr(client, "clamd_socket", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        if found is None:
            raise ScannerUnavailable("virus scanner answered VERSION oddly")
        return found

    def ping(self) -> bool:
        client = self._client(timeout=2.0)
        try:
            return bool(client.ping())
        except (pyclamd.ConnectionError, OSError):
            return False
        finally:
            sock = getattr(client, "clamd_socket", None)
            if sock is not None:
                sock.close()
