"""The local server: every HTTP function on one port, mounted by the shared route table.

Each function is built with functions-framework's ``create_app`` (exactly what Cloud
Functions runs) and mounted under its prefix from ``shared.routes.ROUTES``, the same routing a
load balancer does in production. Every other path is the web app (``web/dist``, built on
start when stale; ``/`` and ``/assets/...``) and its ``/config.json``, with the same security
headers the load balancer's backend bucket sets in production (``infra/web.tf``).
``python -m localdev.server`` serves it with gunicorn and, unless
``CLAMAV_SERVICE_ENABLED=false`` or a clamd already answers, starts a local clamd.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import mimetypes
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import functions_framework
from gunicorn.app.base import BaseApplication

from localdev.clamd import ClamdProcess, clamd_answers
from shared import factory
from shared.config import Settings, get_settings
from shared.logging_config import configure_logging
from shared.routes import ROUTES, function_for

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
WEB_DIST = WEB / "dist"
log = logging.getLogger("localdev.server")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = json.dumps({"error": "no such endpoint"}).encode()
    start_response("404 Not Found", [("Content-Type", "application/json"),
                                     ("Content-Length", str(len(body)))])
    return [body]


def _web_stale() -> tuple[bool, bool]:
    """(npm ci needed, build needed), from modification times."""
    lock, installed = WEB / "package-lock.json", WEB / "node_modules" / ".package-lock.json"
    need_ci = not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime
    sources = [WEB / "build.mjs", WEB / "tsconfig.json", lock, *(WEB / "src").rglob("*")]
    built = WEB_DIST / "index.html"
    newest = max(path.stat().st_mtime for path in sources if path.is_file())
    return need_ci, need_ci or not built.exists() or built.stat().st_mtime < newest


def build_web() -> None:
    """``npm ci`` (when the lockfile changed) and the app's build (when a source changed).

    A lock file serialises concurrent servers (tests start several).
    """
    with open(WEB / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        need_ci, need_build = _web_stale()
        if need_ci:
            log.info("installing the web app's npm packages (npm ci)")
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=WEB, check=True)
        if need_build:
            log.info("building the web app")
            subprocess.run(["node", "build.mjs"], cwd=WEB, check=True)


def web_config(settings: Settings) -> dict[str, Any]:
    """``/config.json``: how the page signs users in (and, for Firebase, where)."""
    config: dict[str, Any] = {"auth_mode": settings.auth_mode}
    if settings.auth_mode == "firebase":
        project, emulator = settings.firebase_project_id, os.environ.get(
            "FIREBASE_AUTH_EMULATOR_HOST", "")
        config["firebase"] = {
            "api_key": os.environ.get("FIREBASE_WEB_API_KEY", "demo-api-key"),
            "auth_domain": os.environ.get("FIREBASE_AUTH_DOMAIN", f"{project}.firebaseapp.com"),
            "project_id": project,
            **({"emulator_url": f"http://{emulator}"} if emulator else {}),
        }
    return config


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """The page's headers: a CSP with no inline code, and what it may reach (storage for
    signed uploads and previews, Firebase Auth)."""
    storage = settings.storage_emulator_host or (
        "https://storage.googleapis.com" if settings.media_gcs_bucket_name else "")
    emulator = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "")
    firebase = "" if settings.auth_mode != "firebase" else (
        f"http://{emulator}" if emulator
        else "https://identitytoolkit.googleapis.com https://securetoken.googleapis.com")
    extra = " ".join(filter(None, [storage, settings.public_base_url]))
    csp = (f"default-src 'none'; script-src 'self'; style-src 'self'; "
           f"img-src 'self' blob: data: {extra}".rstrip() + "; "
           f"connect-src 'self' {extra} {firebase}".rstrip() + "; "
           "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")
    return [("Content-Security-Policy", " ".join(csp.split())),
            ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"), ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")]


def _static(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``/`` (index.html), ``/config.json`` and ``/assets/<file>``; GET and HEAD only."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if method not in {"GET", "HEAD"}:
        return _not_found(environ, start_response)
    settings = get_settings()
    headers = security_headers(settings)
    if path == "/config.json":
        body = json.dumps(web_config(settings)).encode()
        content_type, cache = "application/json", "no-cache"
    else:
        if path in {"/", "/index.html"}:
            file, cache = WEB_DIST / "index.html", "no-cache"
        elif path.startswith("/assets/") and "/" not in path[len("/assets/"):]:
            file = WEB_DIST / "assets" / path[len("/assets/"):]
            cache = "public, max-age=31536000, immutable"  # names carry a content hash
        else:
            return _not_found(environ, start_response)
        if not file.is_file() or file.name.startswith("."):
            return _not_found(environ, start_response)
        body = file.read_bytes()
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                              ("Cache-Control", cache), *headers])
    return [] if method == "HEAD" else [body]


def build_app() -> WsgiApp:
    """One WSGI app serving every function under its route prefix, and the web app.

    Like a load balancer's URL map, it picks the function by prefix and forwards the full,
    unmodified path, so a function sees exactly what it sees in production. Paths no function
    owns are the web app's (the URL map's default route to the assets bucket).
    """
    source = str(ROOT / "main.py")
    apps = {name: functions_framework.create_app(name, source, "http")
            for name in {route.function for route in ROUTES}}

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        name = function_for(environ.get("PATH_INFO", ""))
        app = apps.get(name) if name else None
        return (app or _static)(environ, start_response)

    return dispatch


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: WsgiApp, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self.application


def _maybe_start_clamd() -> ClamdProcess | None:
    settings = get_settings()
    if not settings.clamav_service_enabled:
        log.warning("VIRUS SCANNING IS DISABLED (CLAMAV_SERVICE_ENABLED=false)")
        return None
    host, port = settings.clamav_service_host, settings.clamav_service_port
    if clamd_answers(host, port):
        log.info("using the clamd already answering on %s:%d", host, port)
        return None
    if host not in {"localhost", "127.0.0.1"}:
        raise SystemExit(f"clamd at {host}:{port} does not answer")
    workdir = Path(settings.workspace_storage_dir) / ".clamd"
    clamd = ClamdProcess(workdir, port=port, max_file_mb=settings.max_file_size_mb).start()
    log.info("started clamd on 127.0.0.1:%d (pid %d)", port, clamd.proc.pid if clamd.proc else 0)
    return clamd


def main(argv: list[str] | None = None) -> None:
    """Serve every function on ``--port`` (``PORT``, default 8080)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-clamd", action="store_true", help="never start a local clamd")
    parser.add_argument("--build-web", action="store_true",
                        help="build the web app if it is stale, then exit (make web)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        build_web()
    except (OSError, subprocess.CalledProcessError) as exc:
        if args.build_web:
            raise SystemExit(f"the web app could not be built: {exc}") from exc
        log.error("the web app could not be built (%s); serving the API only", exc)
    if args.build_web:
        return
    settings = get_settings()
    factory.blob_store(), factory.metadata_store()  # fail now on a bad backend config
    clamd = None if args.no_clamd else _maybe_start_clamd()
    log.info("serving on http://%s:%d (storage %s, auth %s)", args.host, args.port,
             settings.workspace_storage_dir, settings.auth_mode)
    try:
        _Gunicorn(build_app(), {
            "bind": f"{args.host}:{args.port}", "workers": 1, "worker_class": "gthread",
            "threads": args.threads, "timeout": 0, "graceful_timeout": 5,
            "accesslog": "-", "loglevel": "warning",
        }).run()
    finally:
        if clamd:
            clamd.stop()


if __name__ == "__main__":
    main()
