"""The ClamAV HTTP front: the WSGI ``app`` of the Cloud Run service ``clamav`` (not in main.py).

Routes: ``POST /scan`` (the body is the bytes), ``POST /scan/gcs`` (``{bucket, name,
generation}``), ``GET /healthz`` and ``GET /readyz``. All logic is ``shared.scanfront``;
this only wires Flask to it. Served by gunicorn (``infra/clamav/entrypoint.sh``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from shared import factory
from shared.errors import WorkspaceError, http_status
from shared.logging_config import configure_logging

configure_logging()
factory.front_settings()  # a bad configuration (auth off on Cloud Run) stops the boot
log = logging.getLogger("clamav.front")
app = Flask(__name__)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


@app.post("/scan")
def scan() -> Response:
    scanner = factory.scan_front()
    scanner.authorize(request.headers.get("Authorization"))
    # request.stream, never request.data: the body goes to clamd as it arrives.
    return _json(*scanner.respond(lambda: scanner.scan_body(request.stream,
                                                            request.content_length)))


@app.post("/scan/gcs")
def scan_gcs() -> Response:
    scanner = factory.scan_front()
    scanner.authorize(request.headers.get("Authorization"))
    return _json(*scanner.respond(lambda: scanner.scan_gcs(
        request.stream, request.content_length, request.content_type)))


@app.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"})


@app.get("/readyz")
def readyz() -> Response:
    return _json(*factory.scan_front().readiness())


@app.errorhandler(WorkspaceError)
def workspace_error(exc: WorkspaceError) -> Response:
    status = http_status(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    return _json(exc.body(), status)


@app.errorhandler(HTTPException)
def framework_error(exc: HTTPException) -> Response:
    return _json({"error": (exc.name or "error").lower()}, exc.code or 500)


@app.errorhandler(ParseException)
def bad_framing(exc: ParseException) -> Response:
    return _json({"error": "malformed request body"}, 400)  # e.g. a broken chunked encoding


@app.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _json({"error": "internal error"}, 500)
