"""The local server: every HTTP function on one port, mounted by the shared route table.

Each function is built with functions-framework's ``create_app`` (exactly what Cloud
Functions runs) and mounted under its prefix from ``shared.routes.ROUTES``, the same routing a
load balancer does in production. Every other path is the web app (``localdev.webapp``:
``web/dist``, built on start when stale, and its ``/config.json``, with the security headers
the load balancer's backend bucket sets in production). ``python -m localdev.server`` serves
it with gunicorn (``localdev.http_worker``) and, unless ``CLAMAV_SERVICE_ENABLED=false``,
scans with a private clamd on a free port, or with the one ``CLAMAV_SERVICE_PORT`` names once
it has shown that it detects the project's test signature.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import ParseException

from localdev import webapp
from localdev.clamd import (
    TEST_SIGNATURE,
    ClamdNotTrusted,
    ClamdProcess,
    check_test_signature,
    clamd_answers,
)
from localdev.http_worker import GuardedWorker, Limits
from shared import factory
from shared.config import Settings, get_settings
from shared.errors import BadRequest
from shared.logging_config import configure_logging
from shared.routes import ROUTES, function_for

log = logging.getLogger("localdev.server")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ClientBody:
    """``wsgi.input`` whose read errors from gunicorn's parser (a malformed chunked body) are
    the client's fault, a 400, instead of an unhandled error in the function (a 500)."""

    _READS = frozenset({"read", "readline", "readlines", "read1", "readinto"})

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._stream, name)
        if name not in self._READS:
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except ParseException as exc:
                raise BadRequest(f"malformed request body: {exc}") from exc

        return guarded

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")
def build_app() -> WsgiApp:
    """One WSGI app serving every function under its route prefix, and the web app.

    Like a load balancer's URL map, it picks the function by prefix and forwards the full,
    unmodified path, so a function sees exactly what it sees in production. Paths no function
    owns are the web app's (the URL map's default route to the assets bucket).
    """
    source = str(webapp.ROOT / "main.py")
    apps = {name: functions_framework.create_app(name, source, "http")
            for name in {route.function for route in ROUTES}}
    _drop_repeated_path_entries()

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = _ClientBody(environ["wsgi.input"])
        name = function_for(environ.get("PATH_INFO", ""))
        app = apps.get(name) if name else None
        return (app or webapp.serve)(environ, start_response)

    return dispatch


def _drop_repeated_path_entries() -> None:
    """Undo the ``sys.path`` growth of ``create_app``: it appends the source's folder on
    every call, and every later import that misses the module cache walks the whole list
    (Flask's own set-up does one per app). A process that builds the app many times (the
    tests build one per test) slowed down with each build: 0.13 s per build at the first
    test of a module, 0.9 s by its 500th. The first occurrence of each entry is kept, so
    the search order is unchanged."""
    seen: set[str] = set()
    sys.path[:] = [entry for entry in sys.path if not (entry in seen or seen.add(entry))]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: WsgiApp, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self.application


def _clamd_for_this_run(settings: Settings) -> ClamdProcess | None:
    """The clamd this server scans with: a private one on a free port unless
    ``CLAMAV_SERVICE_PORT`` is set; a clamd already answering on a given port is used only
    once it proves it detects the project's test signature."""
    if not settings.clamav_service_enabled:
        log.warning("VIRUS SCANNING IS DISABLED (CLAMAV_SERVICE_ENABLED=false)")
        return None
    host, port = settings.clamav_service_host, settings.clamav_service_port
    local = host in {"localhost", "127.0.0.1"}
    if settings.clamav_port_explicit or not local:
        if clamd_answers(host, port):
            try:
                check_test_signature(host, port)
            except ClamdNotTrusted as exc:
                raise SystemExit(f"localdev.server: {exc}") from exc
            log.info("using the clamd already answering on %s:%d (it detects %s)", host,
                     port, TEST_SIGNATURE)
            return None
        if not local:
            raise SystemExit(f"clamd at {host}:{port} does not answer")
    workdir = Path(settings.workspace_storage_dir) / ".clamd"
    clamd = ClamdProcess(workdir, port=port if settings.clamav_port_explicit else None,
                         max_file_mb=settings.max_file_size_mb).start()
    os.environ["CLAMAV_SERVICE_HOST"] = "127.0.0.1"
    os.environ["CLAMAV_SERVICE_PORT"] = str(clamd.port)
    factory.reset()  # the settings now name this clamd's port
    log.info("started a private clamd on 127.0.0.1:%d (pid %d)", clamd.port,
             clamd.proc.pid if clamd.proc else 0)
    return clamd


def _workers(value: str) -> int:
    """``--workers``: a positive number, or ``auto`` (one per CPU, at most 4)."""
    if value == "auto":
        return max(1, min(os.cpu_count() or 1, 4))
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SystemExit(f"--workers must be a positive number or 'auto', not {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> None:
    """Serve every function on ``--port`` (``PORT``, default 8080)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "1"),
                        help="server processes: a number, or 'auto' for one per CPU (at most"
                             " 4); they share the storage dir as function instances share"
                             " a bucket and Firestore (make run: auto)")
    parser.add_argument("--no-clamd", action="store_true", help="never start a local clamd")
    parser.add_argument("--build-web", action="store_true",
                        help="build the web app if it is stale, then exit (make web)")
    args = parser.parse_args(argv)
    workers = _workers(args.workers)
    # Users' data is private to this account: the database (and its -wal/-shm), blobs,
    # staging files, the signing key, media exec dirs and clamd's files are created 0600
    # and 0700 whichever module creates them (the stores also set their modes explicitly).
    os.umask(0o077)
    configure_logging()
    try:
        webapp.build_web()
    except (OSError, subprocess.CalledProcessError) as exc:
        if args.build_web:
            raise SystemExit(f"the web app could not be built: {exc}") from exc
        log.error("the web app could not be built (%s); serving the API only", exc)
    if args.build_web:
        return
    clamd = None if args.no_clamd else _clamd_for_this_run(get_settings())
    settings = get_settings()
    try:
        factory.blob_store(), factory.metadata_store()  # fail now on a bad backend config
    except BaseException:
        if clamd:
            clamd.stop()
        raise
    scanner = ("scanning disabled" if not settings.clamav_service_enabled
               else f"scanner {settings.clamav_service_url}" if settings.clamav_service_url
               else f"clamd {settings.clamav_service_host}:{settings.clamav_service_port}")
    log.info("serving on http://%s:%d (storage %s, auth %s, %s, %d process%s)", args.host,
             args.port, settings.workspace_storage_dir, settings.auth_mode, scanner, workers,
             "" if workers == 1 else "es")
    # Each worker process opens its own SQLite connections: none made here may cross the
    # fork (SQLite forbids using a connection in a child), so forget the checked stores.
    factory.reset()
    limits = Limits(header_timeout=settings.http_header_timeout_seconds,
                    idle_timeout=settings.http_idle_timeout_seconds,
                    min_rate=settings.http_min_bytes_per_second)
    try:
        _Gunicorn(build_app(), {
            "bind": f"{args.host}:{args.port}", "workers": workers,
            "worker_class": GuardedWorker.configured(limits),
            "threads": args.threads, "timeout": 0, "graceful_timeout": 5,
            # Access lines come from the router (path only: a query string can hold a
            # signed link's signature); gunicorn's own would print the whole request line.
            "accesslog": None, "loglevel": "warning",
        }).run()
    finally:
        if clamd:
            clamd.stop()


if __name__ == "__main__":
    main()
