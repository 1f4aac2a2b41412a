"""``BodyPump``: stream a request body from the caller's writes through a bounded queue.

Two clients send bytes they receive piece by piece without holding them: the GCS staged
upload (one multipart POST) and the HTTP scanner (one chunked ``POST /scan``). Both run the
HTTP request in a background thread whose body is a generator over a small bounded queue, so
the caller's other work (hashing, scanning) overlaps the transfer and memory stays bounded by
the queue whatever the size. This module is that mechanism, once:

- ``put`` queues a piece, waiting while the queue is full; it raises ``PumpStopped`` as soon
  as the request has ended early (the server answered before the body was done, or failed);
- ``finish`` ends the body and waits for the request's result (or re-raises its error);
- ``abort`` ends the body unfinished: the generator raises inside the request, so the server
  never sees a complete body (a GCS object is never created from it). It never raises.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.2  # how often a blocked ``put`` checks that the request is still running


class PumpStopped(Exception):
    """The request ended before the body did; ``BodyPump.result``/``error`` say how."""


class PumpAborted(Exception):
    """Raised inside the body generator to end the request unfinished."""


class BodyPump(Generic[T]):
    """``send(body)`` runs in a thread; ``put`` feeds ``body``; ``finish`` returns its result.

    ``depth`` bounds the pieces waiting in the queue. ``idle_timeout`` ends the body when no
    piece arrives for that long (a caller that stalled), so the request cannot hang forever.
    """

    def __init__(self, send: Callable[[Iterator[bytes]], T], *, depth: int,
                 idle_timeout: float | None = None, name: str = "body-pump") -> None:
        self._send = send
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._idle = idle_timeout
        self._aborted = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._ended = False
        self.result: T | None = None
        self.error: BaseException | None = None

    # -- the request thread ------------------------------------------------------------------
    def _body(self) -> Iterator[bytes]:
        while True:
            try:
                item = self._queue.get(timeout=self._idle)
            except queue.Empty:
                raise PumpAborted("no bytes arrived in time") from None
            if self._aborted.is_set():
                raise PumpAborted("the body was aborted")
            if item is _END:
                return
            assert isinstance(item, bytes)
            yield item

    def _run(self) -> None:
        try:
            self.result = self._send(self._body())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.error = exc
        finally:
            self._drain()  # a writer blocked on a full queue wakes and sees the end

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    # -- the caller's side -------------------------------------------------------------------
    def start(self) -> BodyPump[T]:
        """Start the request (``put`` starts it too, on the first piece)."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the request is still in flight."""
        return self._thread.is_alive()

    def _offer(self, item: object) -> None:
        self.start()
        while True:
            if not self._thread.is_alive():
                raise PumpStopped("the request ended before its body")
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def put(self, piece: bytes) -> None:
        """Queue one piece (queued as is: pass bytes that will not change)."""
        if piece:
            self._offer(piece)

    def end(self) -> None:
        """End the body without waiting for the request (``finish`` waits); once."""
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(PumpStopped):  # already over: finish reports how
            self._offer(_END)

    def finish(self, timeout: float | None = None) -> T:
        """End the body (unless ``end`` did) and wait for the request: its result, or its
        error re-raised.

        ``TimeoutError`` when it has not ended after ``timeout`` seconds (it is aborted).
        """
        self.end()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.abort()
            raise TimeoutError("the request did not finish in time")
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]

    def abort(self, wait: float | None = 0.0) -> None:
        """End the body unfinished (the request fails); never raises.

        ``wait`` is how long to wait for the request thread to end (None: until it does).
        """
        if not self._started or not self._thread.is_alive():
            return
        self._aborted.set()
        self._drain()  # make room, then wake the generator
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_END)
        if wait != 0.0:
            self._thread.join(wait)
