"""A lean HTTP client for the benchmarks: one keep-alive ``http.client`` connection per thread.

``requests`` costs about a millisecond of client CPU per call, which on two shared cores
would be measured as server time; this sends prebuilt multipart bodies and reads answers
with the standard library only. Every server version the bench runs against (the baseline
commit, main, this branch) gets the same client.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.workload import FileSpec

API = "/api/assistant/workspace"
BOUNDARY = "benchboundary15"


class HttpError(RuntimeError):
    """An answer with an unexpected status."""


class Client:
    """Calls to one server as one user; thread-safe (a connection per thread)."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self._local.conn = conn
        return conn

    def headers(self, extra: dict[str, str] | None = None, auth: bool = True
                ) -> dict[str, str]:
        """A call's headers: the bearer token (unless ``auth`` is false), then ``extra``."""
        return {**({"Authorization": f"Bearer {self.token}"} if auth else {}), **(extra or {})}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, auth: bool = True
                ) -> tuple[int, dict[str, str], bytes]:
        """One call; reconnects once if a kept-alive connection was closed."""
        sent = self.headers(headers, auth)
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self._local.conn = None
                return response.status, dict(response.getheaders()), data
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, params: Iterable[tuple[str, str]] = ()) -> tuple[int, dict, bytes]:
        """``GET {API}{path}?{params}``."""
        query = urlencode(list(params))
        return self.request("GET", f"{API}{path}" + (f"?{query}" if query else ""))

    def upload(self, spec: FileSpec) -> dict[str, Any]:
        """``POST /files`` (multipart) as the file's creator; the record."""
        fields = [("description", spec.description), *(("tags", t) for t in spec.tags),
                  ("created_by", spec.creator), ("path", spec.path)]
        parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n".encode() for name, value in fields]
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{spec.filename}"\r\nContent-Type: application/octet-stream'
                     f"\r\n\r\n".encode() + spec.content + f"\r\n--{BOUNDARY}--\r\n".encode())
        status, _, data = self.request(
            "POST", f"{API}/files", b"".join(parts),
            {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
             "X-Agent-Id": spec.creator, "X-Task-Id": spec.task})
        if status != 201:
            raise HttpError(f"upload of {spec.filename}: {status} {data[:300]!r}")
        return json.loads(data)

    def append_memory(self, text: str, agent: str = "agent_0") -> dict[str, Any]:
        """``POST /memory`` with ``append: true``; the answer."""
        status, _, data = self.request(
            "POST", f"{API}/memory", json.dumps({"content": text, "append": True}).encode(),
            {"Content-Type": "application/json", "X-Agent-Id": agent})
        if status != 200:
            raise HttpError(f"memory append: {status} {data[:300]!r}")
        return json.loads(data)


def run_parallel(workers: int, items: list[Any], call: Callable[[Any], object]) -> float:
    """Run ``call`` on every item with ``workers`` threads pulling from one queue; seconds."""
    lock = threading.Lock()
    position = 0
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal position
        while True:
            with lock:
                if position >= len(items) or errors:
                    return
                item = items[position]
                position += 1
            try:
                call(item)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def percentile(samples: list[float], share: float) -> float:
    """The ``share`` quantile (0.99 for p99) by nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summary(samples: list[float]) -> dict[str, float]:
    """Median and p99 of a list of seconds, in milliseconds."""
    return {"median_ms": statistics.median(samples) * 1000,
            "p99_ms": percentile(samples, 0.99) * 1000, "n": len(samples)}
