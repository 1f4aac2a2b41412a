"""The retry policy against a small scripted HTTP server on a free loopback port.

Rate limiting (429) is not on the service yet and a 503 on a read cannot be caused on cue, so
this server plays those faults (a fake for faults that cannot be caused for real yet). What
is checked is the client's side: which requests are repeated, how long it waits, and that a
repeated body is sent whole again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from workspace_client import (
    ConnectionFailed,
    RateLimited,
    RetryPolicy,
    Unavailable,
    Workspace,
)
from workspace_client.models import UploadTicket
from workspace_client.transfer import Opened

FILE = {"id": "file_000001", "filename": "a.txt", "path": "/a.txt", "status": "ready",
        "version": 1, "size_bytes": 1}
MEMORY = {"success": True, "version": 2, "length": 1, "max_length": 100000}
FAST = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05)


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next scripted step, then with 200 and ``ok_body``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.steps: list[tuple] = []
        self.calls: list[tuple[str, str, dict[str, str], int]] = []
        self.ok_body: dict = FILE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.calls.append((self.command, self.path, dict(self.headers), len(body)))
        step = self.server.steps.pop(0) if self.server.steps else (200, {}, self.server.ok_body)
        if step[0] == "drop":  # close without an answer: a connection error for the client
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, headers, payload = step
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client(server: Scripted, policy: RetryPolicy = FAST) -> Workspace:
    return Workspace(server.url, "token", retry=policy)


def test_429_waits_for_retry_after_then_succeeds(scripted: Scripted) -> None:
    scripted.steps = [(429, {"Retry-After": "1"}, {"error": "rate limit exceeded"})]
    started = time.monotonic()
    assert client(scripted).get_file("file_000001").id == "file_000001"
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert len(scripted.calls) == 2


def test_retry_after_as_an_http_date(scripted: Scripted) -> None:
    scripted.steps = [(429, {"Retry-After": formatdate(time.time() + 2, usegmt=True)},
                       {"error": "slow down"})]
    started = time.monotonic()
    client(scripted).get_file("file_000001")
    assert time.monotonic() - started >= 0.9 and len(scripted.calls) == 2  # whole seconds


def test_a_long_retry_after_is_raised_at_once(scripted: Scripted) -> None:
    scripted.steps = [(429, {"Retry-After": "3600"}, {"error": "rate limit exceeded"})]
    with pytest.raises(RateLimited) as caught:
        client(scripted).get_file("file_000001")
    assert caught.value.retry_after == 3600 and caught.value.message == "rate limit exceeded"
    assert len(scripted.calls) == 1


def test_503s_and_dropped_connections_are_retried_for_reads(scripted: Scripted) -> None:
    scripted.steps = [(503, {}, {"error": "backend down"}), ("drop",),
                      (503, {}, {"error": "backend down"})]
    assert client(scripted).get_file("file_000001").id == "file_000001"
    assert [c[0] for c in scripted.calls] == ["GET"] * 4


def test_gives_up_after_the_policy_s_attempts(scripted: Scripted) -> None:
    scripted.steps = [(429, {"Retry-After": "0"}, {"error": "rate limit exceeded"})] * 10
    with pytest.raises(RateLimited) as caught:
        client(scripted, RetryPolicy(attempts=3, backoff=0.01)).get_file("file_000001")
    assert caught.value.retry_after == 0 and len(scripted.calls) == 3
    scripted.steps = [("drop",)] * 10
    with pytest.raises(ConnectionFailed):
        client(scripted, RetryPolicy(attempts=2, backoff=0.01)).get_file("file_000001")


def test_a_post_without_a_precondition_is_not_repeated(scripted: Scripted) -> None:
    scripted.steps = [(503, {}, {"error": "scanner unavailable"})]
    with pytest.raises(Unavailable) as caught:
        client(scripted).upload(b"data", filename="a.txt", method="multipart")
    assert caught.value.message == "scanner unavailable"
    assert [(c[0], c[1]) for c in scripted.calls] == [("POST", "/api/assistant/workspace/files")]
    scripted.calls.clear()
    scripted.steps = [(429, {"Retry-After": "0"}, {"error": "rate limit exceeded"})]
    with pytest.raises(RateLimited):
        client(scripted).memory.set("no precondition")
    assert len(scripted.calls) == 1


def test_a_write_with_if_match_is_repeated(scripted: Scripted) -> None:
    scripted.ok_body = MEMORY
    scripted.steps = [(503, {}, {"error": "backend down"}), ("drop",)]
    result = client(scripted).memory.set("guarded", expected_version=1)
    assert result.version == 2
    assert [c[2].get("If-Match") for c in scripted.calls] == ["1", "1", "1"]


def test_a_repeated_put_sends_the_whole_body_again(scripted: Scripted, tmp_path) -> None:
    scripted.steps = [(503, {}, {"error": "try again"})]
    local = tmp_path / "big.bin"
    local.write_bytes(b"z" * 3_000_000)
    ws = client(scripted)
    ticket = UploadTicket("file_000001", f"{scripted.url}/incoming/big.bin", "PUT",
                          {"Content-Type": "application/octet-stream",
                           "x-goog-if-generation-match": "0"}, None, "/big.bin", 1, "pending")
    with open(local, "rb") as handle:
        ws._uploader.put(ticket, Opened(handle, "big.bin", 3_000_000, 0, False), None)
    assert [(c[0], c[3]) for c in scripted.calls] == [("PUT", 3_000_000), ("PUT", 3_000_000)]
    assert "Authorization" not in scripted.calls[0][2]  # signed URLs never get the token
