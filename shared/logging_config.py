"""Process logging: Cloud Logging's JSON shape in the cloud, readable lines locally.

``configure_logging`` is idempotent; JSON is the default on Cloud Run (``K_SERVICE``), or
with ``LOG_FORMAT=json``. A JSON line carries ``severity``, ``message``, the logger, any
structured fields a call passes (``extra={"json_fields": {...}}``: the scan lines), and,
inside a request (``request_scope``, entered by the HTTP router), the request's trace
(``logging.googleapis.com/trace``, from ``traceparent`` or ``X-Cloud-Trace-Context``) and
its ``httpRequest``, so Cloud Logging groups every line of a request under it. Each request
ends with one access line (``log_access``: status, latency, sizes).

What is never logged: the query string (it can hold a signed link's signature or a cursor;
``requestUrl`` is the path alone), headers other than the user agent (so no bearer token or
API key), bodies, and signed URLs (no log call is given one).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from shared.env import EnvReader, log_format, log_level

_CONFIGURED = False
_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_request", default=None)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$")
access_log = logging.getLogger("workspace.access")


def trace_of(headers: Mapping[str, str], project: str) -> dict[str, Any]:
    """Cloud Logging's trace fields from ``traceparent`` (W3C) or ``X-Cloud-Trace-Context``
    (empty when neither is well formed)."""
    trace, span, sampled = None, None, None
    match = _TRACEPARENT.match((headers.get("traceparent") or "").strip())
    if match and set(match.group(1)) != {"0"}:
        trace, span, sampled = match.group(1), match.group(2), int(match.group(3), 16) & 1
    else:
        cloud = _CLOUD_TRACE.match((headers.get("X-Cloud-Trace-Context") or "").strip())
        if cloud:
            trace, span = cloud.group(1).lower(), cloud.group(2)
            sampled = int(cloud.group(3)) if cloud.group(3) else None
            span = f"{int(span):016x}" if span else None
    if trace is None:
        return {}
    out: dict[str, Any] = {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace}"}
    if span:
        out["logging.googleapis.com/spanId"] = span
    if sampled is not None:
        out["logging.googleapis.com/trace_sampled"] = bool(sampled)
    return out


@contextlib.contextmanager
def request_scope(method: str, path: str, headers: Mapping[str, str], remote_ip: str | None,
                  protocol: str | None) -> Iterator[None]:
    """Every line logged inside carries this request's trace and ``httpRequest``."""
    env = EnvReader()
    project = env.str("GOOGLE_CLOUD_PROJECT") or env.str("GCP_PROJECT") or "local"
    http = {"requestMethod": method, "requestUrl": path, "protocol": protocol,
            "userAgent": (headers.get("User-Agent") or "")[:200], "remoteIp": remote_ip}
    token = _REQUEST.set({"trace": trace_of(headers, project),
                          "http": {k: v for k, v in http.items() if v},
                          "started": time.monotonic()})
    try:
        yield
    finally:
        _REQUEST.reset(token)


def log_access(status: int, response_size: int | None) -> None:
    """The request's access line (inside ``request_scope``)."""
    scope = _REQUEST.get()
    if scope is None:
        return
    latency = time.monotonic() - scope["started"]
    http = {**scope["http"], "status": status, "latency": f"{latency:.6f}s"}
    if response_size is not None:
        http["responseSize"] = str(response_size)
    level = logging.ERROR if status >= 500 else logging.INFO
    access_log.log(level, "%s %s %d %.0f ms", http.get("requestMethod"), http.get("requestUrl"),
                   status, latency * 1000, extra={"http_request": http})


class CloudJsonFormatter(logging.Formatter):
    """One JSON object per line, as Cloud Logging parses structured logs."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        scope = _REQUEST.get()
        if scope is not None:
            entry.update(scope["trace"])
            entry["httpRequest"] = getattr(record, "http_request", None) or scope["http"]
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(fmt: str | None = None) -> None:
    """Set up the root logger once; ``LOG_FORMAT=json`` or running on Cloud Run picks JSON."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    _CONFIGURED = True
    fmt = fmt or log_format()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(CloudJsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(log_level())
