"""``GuardedWorker``: gunicorn's threaded worker, hardened against slow clients, with JSON errors.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first byte
arrives, and the thread then blocks, with no timeout, until the request head is complete
and for as long as the body takes: four clients dripping bytes froze a 4-thread server.
This worker changes three things:

- **Request heads are read on the worker's event loop**, not on a thread: a connection
  gets a thread only once its whole head (request line and headers) is in, and it must
  arrive within ``header_timeout`` seconds (else a 408 and the connection is closed). Any
  number of header-dripping clients costs file descriptors, not threads.
- **Bodies are read on the request's thread**, because they stream straight into the
  scanner and the blob store (memory stays flat, scanning overlaps the upload); buffering
  whole bodies first, as a proxy would, doubles the disk writes of every upload. So a
  body is bounded instead: every read and write gives up after ``idle_timeout`` seconds of
  silence, and once a request is ``idle_timeout`` seconds old it must average at least
  ``min_rate`` bytes a second. A stalled or dripping upload is cut off with a 408, and the
  upload's own clean-up releases its reservation and discards what was staged. With the
  default 64 threads, 32 dripping bodies still leave half the threads free.
- **Errors gunicorn answers itself** (a malformed request line, a request line over the
  limit, too many or too large header fields) are JSON ``{"error": ...}`` like every other
  error of the API, with their statuses (400, 414, 431 ...), instead of an HTML page.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from shared.errors import RequestTimeout

MAX_HEAD_BYTES = 1024 * 1024  # past this the parser answers 414/431 from what it has

# gunicorn's own request errors → status and reason; the first match wins.
_STATUSES: tuple[tuple[type[BaseException], int, str], ...] = (
    (http_errors.InvalidResponseHeader, 500, "Internal Server Error"),
    (http_errors.InvalidResponseHeaderName, 500, "Internal Server Error"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error"),
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (RequestTimeout, 408, "Request Timeout"),
    (http_errors.ParseException, 400, "Bad Request"),
)
_MESSAGES = {
    414: "the request line (method, path and query) is too long",
    431: "the request's header fields are too large or too many",
    500: "internal error",
}


@dataclass(frozen=True)
class Limits:
    """How long a client may take: for its request head, between bytes, and on average."""

    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    min_rate: int = 1024  # bytes a second once a request is idle_timeout old; 0: no floor


def json_error(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error answer with a JSON body; the connection closes after it."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nCache-Control: no-store\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class GuardedSocket(socket.socket):
    """A client connection whose blocking reads and writes time out, and whose request
    must keep a minimum average rate (see ``Limits``)."""

    limits = Limits()
    _started = 0.0
    _received = 0

    def setblocking(self, flag: bool) -> None:
        """gunicorn asks for a blocking socket before each request: keep a timeout."""
        if flag:
            self.settimeout(self.limits.idle_timeout)
        else:
            super().setblocking(False)

    def start_request(self, received: int) -> None:
        """A request's head is complete, with ``received`` bytes read so far (the head and
        whatever came with it): its rate is measured from here."""
        self._started, self._received = time.monotonic(), received

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            data = super().recv(bufsize, flags)
        except TimeoutError as exc:
            raise RequestTimeout(f"the client sent nothing for "
                                 f"{self.limits.idle_timeout:g} s") from exc
        self._received += len(data)
        elapsed = time.monotonic() - self._started
        floor = self.limits.min_rate * elapsed
        if self.limits.min_rate and elapsed > self.limits.idle_timeout and \
                self._received < floor:
            raise RequestTimeout(f"the client sends slower than {self.limits.min_rate} "
                                 f"bytes a second")
        return data


class GuardedWorker(ThreadWorker):
    """``gthread`` with request heads read off-thread, body timeouts and JSON errors."""

    limits = Limits()

    @classmethod
    def configured(cls, limits: Limits) -> type[GuardedWorker]:
        """This worker class with ``limits`` (gunicorn builds the worker itself)."""
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heading: dict[TConn, float] = {}  # connection → deadline for its head
        self._socket_class = type("GuardedSocket", (GuardedSocket,), {"limits": self.limits})

    def accept(self, listener: socket.socket) -> None:
        """A new connection starts by reading its request head on the event loop."""
        try:
            raw, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        sock = self._socket_class(raw.family, raw.type, raw.proto, fileno=raw.detach())
        self._read_head(TConn(self.cfg, sock, client, listener.getsockname()))

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection's next request: its head too is read here first."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def _read_head(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        conn.head = bytearray()
        self.heading[conn] = time.monotonic() + self.limits.header_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn: TConn, _sock: socket.socket) -> None:
        try:
            data = socket.socket.recv(conn.sock, 65536)  # the plain read: no rate check yet
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.head += data
        if b"\n\r\n" not in conn.head and b"\n\n" not in conn.head \
                and len(conn.head) < MAX_HEAD_BYTES:
            return
        self.poller.unregister(conn.sock)
        del self.heading[conn]
        conn.init()  # the HTTP/1 parser (no TLS here); the socket blocks with a timeout
        conn.parser.unreader.unread(bytes(conn.head))
        conn.sock.start_request(len(conn.head))
        conn.head = bytearray()
        conn.data_ready = True
        self.enqueue_req(conn)

    def _drop(self, conn: TConn, answer: bytes = b"") -> None:
        self.heading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                socket.socket.send(conn.sock, answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close connections whose request head is late (408 when it had begun), and
        when the worker stops, every connection whose head is not in yet."""
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.heading.items()):
            if deadline <= now or not self.alive:
                answer = json_error(408, "Request Timeout", "the request head took longer "
                                    f"than {self.limits.header_timeout:g} s") if conn.head else b""
                self._drop(conn, answer)

    def handle_error(self, req: Any, client: socket.socket, addr: Any,
                     exc: BaseException) -> None:
        """gunicorn's own error answers, as JSON ``{"error": ...}``."""
        status, reason = next(((code, text) for kind, code, text in _STATUSES
                               if isinstance(exc, kind)), (500, "Internal Server Error"))
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        message = _MESSAGES.get(status) or str(exc) or reason.lower()
        try:
            util.write_nonblock(client, json_error(status, reason, message))
        except OSError:
            self.log.debug("Failed to send error message.")
