"""The ``sweep`` HTTP function: maintenance, invoked by Cloud Scheduler (POST only).

Purges soft-deleted blobs past ``FILE_RETENTION_DAYS``, removes staging leftovers, releases
abandoned reservations, re-drives stuck direct uploads and expires unused upload tickets
(``shared.maintenance``), and answers a JSON report.

Access: this function is deployed without public invokers; Cloud Run IAM admits only the
scheduler's service account (an OIDC token minted for this URL), so no end-user token is
involved and none is checked here. It is not in the frontend route table either, so the
local server never exposes it. Every step is idempotent, so an extra run does no harm.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import json_response
from shared import factory
from shared.errors import WorkspaceError, http_status


@functions_framework.http
def sweep(request: Request) -> Response:
    """Entry point: POST runs one sweep; anything else is a 405."""
    if request.method != "POST":
        return json_response({"error": "method not allowed"}, 405, {"Allow": "POST"})
    try:
        return json_response(factory.maintenance().run())
    except WorkspaceError as exc:
        return json_response(exc.body(), http_status(exc))
