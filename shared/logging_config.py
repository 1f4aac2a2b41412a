"""Process logging: Cloud Logging's JSON shape in the cloud, readable lines locally.

``configure_logging`` is idempotent. The JSON formatter emits ``severity``, ``message`` and
the trace id when a request carried one; it never logs bodies, tokens or signed URLs (those
never reach a log call in the first place).
"""

from __future__ import annotations

import json
import logging
import sys

from shared.env import log_format, log_level

_CONFIGURED = False


class CloudJsonFormatter(logging.Formatter):
    """One JSON object per line, as Cloud Logging parses structured logs."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        trace = getattr(record, "trace", None)
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


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
