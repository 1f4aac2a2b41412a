"""The web app as ``make run`` and ``make dev`` serve it: built from ``web/`` when stale,
then ``/`` (``index.html``), ``/assets/<file>`` and ``/config.json``, with the security headers
the load balancer's backend bucket sets in production (``infra/web.tf``).

``localdev.server`` mounts ``serve`` after every API route, so any path no function owns is
the page's (or a JSON 404).
"""

from __future__ import annotations

import fcntl
import json
import logging
import mimetypes
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shared.config import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
WEB_DIST = WEB / "dist"
log = logging.getLogger("localdev.webapp")


def not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The JSON 404 of a path nothing serves."""
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
        project, emulator = settings.firebase_project_id, settings.firebase_auth_emulator_host
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
    emulator = settings.firebase_auth_emulator_host
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


def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``/`` (index.html), ``/config.json`` and ``/assets/<file>``; GET and HEAD only."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if method not in {"GET", "HEAD"}:
        return not_found(environ, start_response)
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
            return not_found(environ, start_response)
        if not file.is_file() or file.name.startswith("."):
            return not_found(environ, start_response)
        body = file.read_bytes()
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                              ("Cache-Control", cache), *headers])
    return [] if method == "HEAD" else [body]
