"""Scanners that misbehave on purpose: ``FakeClamd`` (clamd's TCP protocol) and ``FakeFront``
(the ClamAV front's HTTP API), each a real server on a loopback port.

A real clamd or front cannot be made to answer ``ERROR``, a malformed line, a wrong byte
count or to drop the connection half-way at a chosen moment, so these speak the real wire
protocols and fail exactly as asked (``mode``). Every client and ingress must treat each of
these as "no verdict": 503 inline, a redelivery on events, never a clean result. Modes
``ok`` and ``found`` answer properly, so a test can show the same fixture passing first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import socketserver
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

CLAMD_MODES = ("error", "empty", "close_mid", "malformed", "stall")
DIGEST_FAULTS: dict[str, dict[str, Any]] = {
    "short_sha": {"sha256": "ab" * 31}, "upper_sha": {"sha256": "AB" * 32},
    "no_sha": {"sha256": None}, "no_mime": {"mime_type": None},
    "bad_mime": {"mime_type": "text"}, "mime_with_spaces": {"mime_type": "text/plain; x"},
}
ERROR_REPLY = b"stream: Can't allocate memory " + b"(details) " * 30 + b"ERROR\n"
LIMIT_REPLY = b"INSTREAM size limit exceeded. ERROR\n"
FRONT_MODES = ("status_500", "status_401", "no_verdict", "verdict_error", "wrong_count",
               "drop_mid_body")


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _ClamdHandler(socketserver.BaseRequestHandler):
    server: _ClamdServer

    def handle(self) -> None:
        self.server.fake.started += 1
        try:
            self._handle()
        finally:
            self.server.fake.ended += 1

    def _handle(self) -> None:
        sock: socket.socket = self.request
        command = b""
        while not command.endswith((b"\n", b"\0")):
            byte = sock.recv(1)
            if not byte:
                return
            command += byte
        name = command.strip(b"nz\n\0")
        if name == b"PING":
            sock.sendall(b"PONG\n")
            return
        if name != b"INSTREAM":
            sock.sendall(b"UNKNOWN COMMAND\n")
            return
        self.server.fake.connections += 1
        mode, total = self.server.fake.mode, 0
        while True:
            header = _recv_exact(sock, 4)
            if header is None:
                return
            (size,) = struct.unpack("!L", header)
            if size == 0:
                break
            if _recv_exact(sock, size) is None:
                return
            total += size
            if mode == "limit_mid":  # clamd refuses a stream past StreamMaxLength at once
                sock.sendall(LIMIT_REPLY)
                self.server.fake.refused.set()
                return
            if mode == "close_mid":  # gone after the first frame: no reply, ever
                # A reset and nothing else: closing here (linger 0) sends one RST. Left to
                # socketserver, shutdown(SHUT_WR) would send a FIN first, and a client already
                # waiting for the reply could read that clean end-of-stream before the reset.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
        self.server.fake.bytes_seen = total
        replies = {"ok": b"stream: OK\n", "found": b"stream: Fake.Signature FOUND\n",
                   "error": ERROR_REPLY, "empty": b"", "limit_end": LIMIT_REPLY,
                   "malformed": b"garbage-without-a-status\n",
                   "ok_held": b"stream: OK\n", "ok_held_nul": b"stream: OK\0",
                   "found_unnamed": b"stream: FOUND\n"}
        if mode == "stall":
            self.server.fake.release.wait(30)  # never answers while the test waits
            return
        if mode == "ok_split":  # one reply in two TCP segments
            sock.sendall(b"stream: O")
            time.sleep(0.2)
            sock.sendall(b"K\n")
            return
        if mode == "garbled":  # not UTF-8: a signature name with a stray byte
            sock.sendall(b"stream: Bad\xffName FOUND\n")
            return
        sock.sendall(replies[mode])
        if mode.startswith("ok_held"):  # answers, then keeps the connection open
            self.server.fake.release.wait(30)


class _ClamdServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeClamd


class FakeClamd:
    """A clamd stand-in on ``127.0.0.1:port``; ``mode`` picks how INSTREAM ends.

    ``ok``/``found`` answer and close, as clamd does; ``ok_held``/``ok_held_nul`` answer (with
    a newline or a NUL) and keep the connection open, so the client must stop reading at the
    end of the reply; the ``CLAMD_MODES`` fail.
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.connections = 0  # INSTREAM conversations
        self.started = 0  # conversations of any command
        self.ended = 0  # conversations over (the client closed, or the fake did)
        self.bytes_seen = 0
        self.release = threading.Event()
        self.refused = threading.Event()  # ``limit_mid`` has sent its refusal
        self._server = _ClamdServer(("127.0.0.1", 0), _ClamdHandler)
        self._server.fake = self
        self.port = int(self._server.server_address[1])

    def start(self) -> FakeClamd:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-clamd",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


class _FrontHandler(BaseHTTPRequestHandler):
    server: _FrontServer
    protocol_version = "HTTP/1.1"
    modes: ClassVar[dict[str, Any]] = {}

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self.send_response(status)
        self._answer_rest(body, content_type)

    def _answer_rest(self, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _read_body(self, drop_after: int | None) -> bytes | None:
        """The request body (chunked or sized); None when dropped after ``drop_after``."""
        out = bytearray()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
                if drop_after is not None and len(out) >= drop_after:
                    return None
        length = int(self.headers.get("Content-Length") or 0)
        if drop_after is not None and length > drop_after:
            self.rfile.read(drop_after)
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        self.server.fake.auth.append((self.path, self.headers.get("Authorization")))
        self._answer(200, {"ready": True})

    def do_POST(self) -> None:
        fake = self.server.fake
        fake.requests.append(self.path)
        fake.auth.append((self.path, self.headers.get("Authorization")))
        fake.headers.append({k.lower(): v for k, v in self.headers.items()})
        mode = fake.mode
        if mode == "status_413_early":  # the front refuses after the first chunk, at once
            self.rfile.readline()
            self._answer(413, {"error": "file exceeds the scanner's limit (early)"})
            self._drop()
            return
        body = self._read_body(1 if mode == "drop_mid_body" else None)
        if body is None:
            self._drop()
            return
        if self.path == "/scan/gcs":
            fake.objects.append(json.loads(body))
            size, data = fake.object_size, b""
        else:
            size, data = len(body), body
        digest = hashlib.sha256(data).hexdigest()
        verdict = {"verdict": "clean", "bytes_scanned": size, "sha256": digest,
                   "mime_type": "text/plain"}
        if mode == "ok":
            self._answer(200, verdict)
        elif mode == "trickle":  # a clean verdict, one header byte every 0.2 s (about 6 s)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(30):
                time.sleep(0.2)
                self.wfile.write(b".")
            self.wfile.write(b"\r\n")
            self._answer_rest(verdict)
        elif mode in ("found", "found_unnamed"):
            signature = "Fake.Signature" if mode == "found" else ""
            self._answer(200, {**verdict, "verdict": "infected", "signature": signature})
        elif mode == "not_json":  # a 200 from something that is not the front
            self._answer(200, b"<html>hello</html>", "text/html")
        elif mode == "json_list":
            self._answer(200, [verdict])
        elif mode in ("status_500", "status_401", "status_403", "status_404", "status_413",
                      "status_400"):
            self._answer(int(mode[-3:]), {"error": "the front is unwell"})
        elif mode.endswith("_bare"):  # an error status without a JSON body
            self._answer(int(mode.split("_")[1]), {})
        elif mode == "status_500_clean":  # an error status whose body looks like a verdict
            self._answer(500, verdict)
        elif mode == "no_verdict":
            self._answer(200, {**{k: v for k, v in verdict.items() if k != "verdict"},
                               "note": "n" * 200})
        elif mode == "verdict_error":
            self._answer(200, {**verdict, "verdict": "error"})
        elif mode == "wrong_count":  # a short scan: the tail was never looked at
            self._answer(200, {**verdict, "bytes_scanned": size - 1})
        elif mode in DIGEST_FAULTS:  # a verdict, but no usable SHA-256 or MIME type
            self._answer(200, {**verdict, **DIGEST_FAULTS[mode], "note": "n" * 200})
        else:
            raise AssertionError(f"unknown mode {mode}")


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeFront


class FakeFront:
    """The ClamAV front's ``POST /scan`` and ``POST /scan/gcs``, failing as ``mode`` says.

    ``/scan/gcs`` does not read GCS: it answers for an object of ``object_size`` bytes.
    """

    def __init__(self, mode: str = "ok", object_size: int = 0) -> None:
        self.mode = mode
        self.object_size = object_size
        self.requests: list[str] = []
        self.auth: list[tuple[str, str | None]] = []  # (path, Authorization) of each request
        self.objects: list[dict[str, Any]] = []  # the JSON bodies of POST /scan/gcs
        self.headers: list[dict[str, str]] = []  # each POST's headers, names lower-cased
        self._server = _FrontServer(("127.0.0.1", 0), _FrontHandler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeFront:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-front",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
