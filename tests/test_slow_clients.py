"""Slow clients cannot freeze the ``make run`` server (issue 16, item 5).

Four clients dripping header or body bytes froze a 4-thread server: gunicorn's ``gthread``
gave each a thread and never timed out. ``localdev.http_worker.GuardedWorker`` reads request
heads off-thread with a deadline and bounds bodies with an idle timeout and a minimum rate.
Here a real server process (``LocalServer``, as ``make run`` starts it) keeps answering with
64 slow clients connected, and a stalled or dripping upload is cut off with a 408, leaving
nothing stored and no reservation behind.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localdev.process import LocalServer
from tests.conftest import API, Api, base_env, storage_snapshot
from tests.rawhttp import connect, read_answer

BOUNDARY = "slowclientboundary"


def _upload_head(length: int) -> bytes:
    token = Api.headers("alice")["Authorization"]
    return (f"POST {API}/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _file_part_head(filename: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n").encode()


class Drippers:
    """Connections that each get one more byte every ``interval`` seconds, from one thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.socks: list[socket.socket] = []
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def add(self, sock: socket.socket) -> None:
        self.socks.append(sock)

    def start(self) -> None:
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(self.interval):
            for sock in self.socks:
                try:
                    sock.send(b"x")
                except OSError:
                    continue

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


@pytest.fixture
def drippers() -> Iterator[Drippers]:
    slow = Drippers()
    yield slow
    slow.close()


def _server(tmp_path: Path, clamd_port: int | None, **settings: str) -> LocalServer:
    env = {**base_env(tmp_path / "storage", clamd_port), **settings}
    return LocalServer(tmp_path / "server", env).start(timeout=60)


def test_64_slow_clients_leave_healthz_and_uploads_answering(tmp_path, clamd, drippers):
    server = _server(tmp_path, clamd.port)
    try:
        for _ in range(32):  # heads that never end
            sock = connect(server.port)
            sock.sendall(f"GET {API}/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
            drippers.add(sock)
        for number in range(32):  # uploads whose body trickles in
            sock = connect(server.port)
            sock.sendall(_upload_head(10 * 1024 * 1024) + _file_part_head(f"slow{number}.txt"))
            drippers.add(sock)
        drippers.start()
        time.sleep(1.0)  # every slow request is in: heads on the loop, bodies on threads
        for round_ in range(3):
            start = time.monotonic()
            health = requests.get(f"{server.url}/healthz", timeout=2)
            upload = requests.post(f"{server.url}{API}/files", headers=Api.headers("alice"),
                                   files={"file": (f"fast{round_}.txt", b"quick\n")}, timeout=2)
            elapsed = time.monotonic() - start
            assert health.status_code == 200, health.text
            assert upload.status_code == 201, upload.text
            assert elapsed < 2.0, elapsed
    finally:
        drippers.close()
        server.stop()


def _stalled_upload(server: LocalServer, filename: str, sent: int,
                    drip: Drippers | None = None) -> tuple:
    """An upload that sends ``sent`` bytes of its file, then stalls (or drips); the answer
    and how long it took."""
    sock = connect(server.port, timeout=20)
    sock.sendall(_upload_head(1024 * 1024) + _file_part_head(filename) + b"a" * sent)
    start = time.monotonic()
    if drip is not None:
        drip.add(sock)
        drip.start()
    answer = read_answer(sock)
    sock.close()
    return answer, time.monotonic() - start


def test_a_stalled_or_dripping_upload_is_cut_off_and_leaves_nothing(tmp_path, clamd):
    server = _server(tmp_path, clamd.port, HTTP_IDLE_TIMEOUT_SECONDS="1",
                     HTTP_HEADER_TIMEOUT_SECONDS="1")
    storage = tmp_path / "storage"
    try:
        answer, took = _stalled_upload(server, "stalled.txt", sent=200_000)
        assert answer.status == 408 and answer.json()["error"], answer
        assert took < 4, took
        dripping = Drippers(interval=0.2)
        try:
            answer, took = _stalled_upload(server, "dripping.txt", 100, dripping)
        finally:
            dripping.close()
        assert answer.status == 408 and "slower" in answer.json()["error"], answer
        assert took < 3, took
        # Nothing kept: no blob, no staging file, no pending record, the path is free.
        assert storage_snapshot(storage) == {}
        listing = requests.get(f"{server.url}{API}/files", headers=Api.headers("alice"),
                               params={"include_all_sessions": "true"}, timeout=10)
        assert listing.json() == [], listing.text
        again = requests.post(f"{server.url}{API}/files", headers=Api.headers("alice"),
                              files={"file": ("stalled.txt", b"complete\n")}, timeout=10)
        assert again.status_code == 201, again.text
        # A head that never ends is answered 408 and closed.
        with connect(server.port, timeout=10) as sock:
            sock.sendall(f"GET {API}/files HTTP/1.1\r\nHost: x\r\n".encode())
            start = time.monotonic()
            late = read_answer(sock)
        assert late.status == 408 and late.json()["error"], late
        assert time.monotonic() - start < 4
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")
