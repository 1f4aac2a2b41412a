"""``Origin``: a small HTTP(S) server on loopback that media tests and benchmarks fetch from.

Routes answer with fixed bytes, a redirect, an error status, or a generated stream of any
size (with or without ``Content-Length``, optionally dripped slowly), so the fetcher's caps,
timeouts and redirect checks are exercised over real sockets. Every request's path and
headers are recorded for assertions (was ``Authorization`` dropped on the other host?).
"""

from __future__ import annotations

import datetime as dt
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self


@dataclass
class Route:
    """What one path answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream_bytes: int | None = None   # generate this many bytes instead of ``body``
    send_length: bool = True          # False: no Content-Length, close-delimited body
    delay: float = 0.0                # seconds to wait before each 64 KiB piece


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (a refused download, a failed TLS check) are expected here."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Seen:
    """A request the origin received."""

    path: str
    headers: dict[str, str]


class Origin:
    """A threaded HTTP server on 127.0.0.1; ``tls=(cert, key)`` makes it HTTPS."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.tls = tls
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                return None

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                origin.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = origin.routes.get(path, Route(404, b"not found"))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                size = route.stream_bytes if route.stream_bytes is not None else len(route.body)
                if route.send_length:
                    self.send_header("Content-Length", str(size))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    self._body(route, size)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _body(self, route: Route, size: int) -> None:
                if route.stream_bytes is None and not route.delay:
                    self.wfile.write(route.body)
                    return
                piece = b"\x42" * 65536
                sent = 0
                while sent < size:
                    if route.delay:
                        time.sleep(route.delay)
                    chunk = (route.body or piece)[: min(65536, size - sent)]
                    self.wfile.write(chunk)
                    sent += len(chunk)

        self.server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """A URL of this origin, optionally under another host name (resolved by a hook)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def self_signed(directory: Path, names: list[str]) -> tuple[Path, Path]:
    """A throwaway certificate (and key) for ``names``; it is its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "origin.crt", directory / "origin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
