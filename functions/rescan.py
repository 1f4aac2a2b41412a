"""The ``rescan`` HTTP function: rescan files scanned with older signatures (POST only).

Cloud Scheduler calls it after the signature mirror's update (and hourly: a run with nothing
to do asks clamd's version and counts). It rescans for up to ``RESCAN_MAX_SECONDS`` and
answers its progress; the next call resumes where it stopped (``shared.rescans.job``). Like
``sweep``, only the scheduler's service account may invoke it (Cloud Run IAM).
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import json_response
from shared import factory
from shared.errors import WorkspaceError, http_status

MAX_SECONDS = 1500.0  # inside the function's 1800 s timeout


@functions_framework.http
def rescan(request: Request) -> Response:
    """Entry point: POST runs the rescan job; anything else is a 405."""
    if request.method != "POST":
        return json_response({"error": "method not allowed"}, 405, {"Allow": "POST"})
    try:
        return json_response(factory.rescan_job().run(max_seconds=MAX_SECONDS))
    except WorkspaceError as exc:
        return json_response(exc.body(), http_status(exc))
