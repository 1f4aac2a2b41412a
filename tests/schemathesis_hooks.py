"""Schemathesis hooks for ``tests/test_schemathesis.py``: the allow-list, applied in the run.

Schemathesis imports this module (``hooks`` in ``tests/schemathesis.toml``). Its
``filter_failure`` hook drops every failure an entry of ``tests/schemathesis-allow.yaml``
covers, so an allowed failure neither ends a stateful scenario (Schemathesis stops a
scenario at a failure it has seen before) nor fails the run; each dropped failure is
appended as one JSON line to ``SCHEMATHESIS_ALLOWED_LOG`` for the test's summary.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import schemathesis

from tests.schemathesis_report import Failure, error_message, load_allow_list

ALLOW_LIST = Path(__file__).resolve().parent / "schemathesis-allow.yaml"
ALLOWED = load_allow_list(ALLOW_LIST)
_lock = threading.Lock()


def _text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep the failure unless an allow-list entry covers it."""
    request = response.request
    seen = Failure(
        checks=tuple(getattr(failure, "checks", ())), code=getattr(failure, "code", "?"),
        operation=case.operation.label, phase="", case_id=case.id,
        status=response.status_code,
        error=error_message((response.content or b"").decode("utf-8", "replace")),
        request=f"{request.method} {request.url} {_text(request.body)}")
    entry = next((a for a in ALLOWED if a.covers(seen)), None)
    if entry is None:
        return True
    log = os.environ.get("SCHEMATHESIS_ALLOWED_LOG")
    if log:
        line = json.dumps({"reason": entry.reason, "code": seen.code,
                           "operation": seen.operation, "status": seen.status,
                           "error": seen.error})
        with _lock, open(log, "a", encoding="utf-8") as out:
            out.write(line + "\n")
    return False
