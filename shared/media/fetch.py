"""``Fetcher``: downloads an http(s) URL without letting it reach inside the network.

Each hop is one ``urllib3`` connection pool bound to an address ``NetPolicy`` has already
checked, so the name is resolved exactly once and a second DNS answer can never redirect the
socket (DNS rebinding). TLS still verifies the certificate against the *name* (SNI and
``assert_hostname``), and the ``Host`` header carries the name, so virtual hosting works.

Redirects are followed by hand: every ``Location`` is parsed and checked like the first URL,
up to ``max_redirects``, and credentials (URL userinfo) are dropped as soon as the origin
changes. Bytes are read as they arrive (``read1``), so the total deadline is checked between
every network read and a slow drip cannot hold a request open past it. The body is taken as
sent (``Accept-Encoding: identity``, no decompression), so a small gzip bomb cannot expand in
memory; the byte cap applies to what is read, before it is buffered.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import HTTPError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from shared.errors import Forbidden, PayloadTooLarge, UpstreamError, UpstreamTimeout
from shared.media.netpolicy import IPAddress, NetPolicy, Target, check_url

_DIGITS = re.compile(r"[0-9]{1,20}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "agent-workspace-media/1"
MiB = 1024 * 1024


@dataclass(frozen=True)
class FetchLimits:
    """Timeouts (seconds) and the redirect cap for one download."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_redirects: int = 5
    chunk_size: int = MiB


def too_large(max_bytes: int) -> PayloadTooLarge:
    """The one 413 for media inputs, whatever their source."""
    return PayloadTooLarge(f"file exceeds the {max_bytes // MiB} MiB limit", max_bytes=max_bytes)


class Download:
    """An open 2xx response: iterate ``chunks()``, then ``close()`` (or use ``with``)."""

    def __init__(self, response: urllib3.BaseHTTPResponse, pool: urllib3.HTTPConnectionPool,
                 target: Target, deadline: float, max_bytes: int, chunk_size: int) -> None:
        self._response, self._pool = response, pool
        self.target = target
        self.deadline, self.max_bytes, self.chunk_size = deadline, max_bytes, chunk_size
        length = response.headers.get("Content-Length", "").strip()
        # ASCII digits only: str.isdigit() also accepts '¹' or '٣', which int() refuses.
        self.content_length = int(length) if _DIGITS.fullmatch(length) else None

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces of about ``chunk_size``; 413 past the cap, 504 past the deadline."""
        if self.content_length is not None and self.content_length > self.max_bytes:
            raise too_large(self.max_bytes)
        total = 0
        buffer = bytearray()
        while True:
            if time.monotonic() > self.deadline:
                raise UpstreamTimeout("the download took too long")
            try:
                piece = self._response.read1(self.chunk_size - len(buffer), decode_content=False)
            except Urllib3Timeout as exc:
                raise UpstreamTimeout("the remote server stopped sending") from exc
            except HTTPError as exc:
                raise UpstreamError("the download was interrupted") from exc
            total += len(piece)
            if total > self.max_bytes:
                raise too_large(self.max_bytes)
            if piece:
                buffer += piece
            if buffer and (not piece or len(buffer) >= self.chunk_size):
                yield bytes(buffer)
                buffer.clear()
            if not piece:
                return

    def close(self) -> None:
        """Drop the connection (never reused: each pool serves one hop)."""
        self._response.release_conn()
        self._response.close()
        self._pool.close()

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Fetcher:
    """Opens downloads under a ``NetPolicy`` and ``FetchLimits``."""

    def __init__(self, policy: NetPolicy, limits: FetchLimits,
                 ca_certs: str | None = None) -> None:
        self.policy, self.limits, self.ca_certs = policy, limits, ca_certs

    def open(self, url: str, max_bytes: int) -> Download:
        """GET ``url``, following checked redirects; the caller closes the ``Download``."""
        target = check_url(url)
        current = url
        auth = target.userinfo
        deadline = time.monotonic() + self.limits.total_timeout
        for _hop in range(self.limits.max_redirects + 1):
            addresses = self.policy.resolve(target)
            response, pool = self._request(target, addresses, auth, deadline)
            if response.status not in REDIRECTS:
                if not 200 <= response.status < 300:
                    _discard(response, pool)
                    raise UpstreamError(f"the URL answered HTTP {response.status}",
                                        upstream_status=response.status)
                return Download(response, pool, target, deadline, max_bytes,
                                self.limits.chunk_size)
            location = response.headers.get("Location")
            _discard(response, pool)
            if not location:
                raise UpstreamError("the URL redirected without a Location")
            try:
                current = urljoin(current, location)
                following = check_url(current)
            except ValueError as exc:  # BadRequest too: the upstream's fault, not the caller's
                scheme = _SCHEME.match(location)
                if scheme and scheme.group(1).lower() not in ("http", "https"):
                    raise Forbidden("the URL redirected to a scheme other than http(s)") from exc
                raise UpstreamError("the URL redirected to an invalid location") from exc
            if following.userinfo is not None:
                auth = following.userinfo
            elif following.origin != target.origin:
                auth = None  # never hand credentials to another host, port or scheme
            target = following
        raise UpstreamError(f"the URL redirected more than {self.limits.max_redirects} times")

    def _request(self, target: Target, addresses: list[IPAddress],
                 auth: tuple[str, str] | None,
                 deadline: float) -> tuple[urllib3.BaseHTTPResponse, urllib3.HTTPConnectionPool]:
        headers = {"Host": target.host_header, "User-Agent": USER_AGENT,
                   "Accept-Encoding": "identity", "Accept": "*/*"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        last: Exception | None = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout("the download took too long")
            timeout = urllib3.Timeout(connect=min(self.limits.connect_timeout, remaining),
                                      read=min(self.limits.read_timeout, remaining))
            pool = self._pool(target, address, timeout)
            try:
                response = pool.urlopen("GET", target.request_target, headers=headers,
                                        retries=False, redirect=False, assert_same_host=False,
                                        preload_content=False, decode_content=False)
                return response, pool
            except urllib3.exceptions.NewConnectionError as exc:
                pool.close()
                last = exc  # try the next checked address of this name
            except Urllib3Timeout as exc:
                pool.close()
                raise UpstreamTimeout("the remote server did not answer in time") from exc
            except urllib3.exceptions.SSLError as exc:
                pool.close()
                raise UpstreamError("TLS with the remote server failed") from exc
            except HTTPError as exc:
                pool.close()
                raise UpstreamError("the remote server's answer was malformed") from exc
        raise UpstreamError("could not connect to the URL's host") from last

    def _pool(self, target: Target, address: IPAddress,
              timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
        """A one-connection pool pinned to ``address``, speaking TLS for the *name*."""
        common = {"port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
        if target.scheme == "http":
            return urllib3.HTTPConnectionPool(str(address), **common)
        return urllib3.HTTPSConnectionPool(
            str(address), cert_reqs="CERT_REQUIRED", ca_certs=self.ca_certs,
            assert_hostname=target.host,
            server_hostname=None if target.ip_literal is not None else target.host, **common)


def _discard(response: urllib3.BaseHTTPResponse, pool: urllib3.HTTPConnectionPool) -> None:
    response.release_conn()
    response.close()
    pool.close()

