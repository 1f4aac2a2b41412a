"""``RecordingProxy``: a loopback HTTP proxy that forwards to one upstream and records each call.

Two things cannot be seen from the outside without it:

- what a GCS request *asked for*: fake-gcs-server ignores ``ifGenerationMatch`` and
  ``ifSourceGenerationMatch``, so the only proof that a copy is pinned is the request itself;
- how many times Pub/Sub pushed an event and what the function answered, so a test can wait
  for the redeliveries it expects instead of sleeping and hoping.

It forwards method, path, query, headers and body unchanged and returns the upstream's answer.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-connection", "host", "content-length"}


@dataclass
class Call:
    """One forwarded request and the upstream's status."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(out)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        call = Call(self.command, parts.path, query, body,
                    headers={k.lower(): v for k, v in self.headers.items()})
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                              timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        call.status = response.status
        with proxy.lock:
            proxy.calls.append(call)
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: RecordingProxy


class RecordingProxy:
    """Forwards ``http://127.0.0.1:port/...`` to ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "", parts.port or 80
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingProxy:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="recording-proxy",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def matching(self, predicate: Callable[[Call], bool]) -> list[Call]:
        """The calls so far for which ``predicate`` is true."""
        with self.lock:
            return [call for call in self.calls if predicate(call)]

    def wait_for(self, predicate: Callable[[Call], bool], count: int,
                 timeout: float = 60.0) -> list[Call]:
        """Block until at least ``count`` matching calls were answered; they are returned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(predicate)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"saw {len(self.matching(predicate))} of {count} expected calls")
