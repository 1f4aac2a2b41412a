"""The ``logs`` function: the operation log, paged JSON or a JSON Lines export."""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router, paged
from shared import factory, queries
from shared.config import get_settings
from shared.context import RequestContext
from shared.routes import API_PREFIX
from shared.scopes import needs

router = Router()


@router.route(f"{API_PREFIX}/logs", access=needs("logs:read"), params=queries.LOG_ARGS)
def list_logs(request: Request, ctx: RequestContext) -> Response:
    query = queries.log_query(request.args, ctx, get_settings())
    if request.args.get("format") == "jsonl":  # the value was checked by log_query
        limit = query.limit if "limit" in request.args else None
        lines = factory.log_service().export_jsonl(ctx, query, limit)
        return Response(lines, mimetype="application/x-ndjson",
                        headers={"Content-Disposition": 'attachment; filename="logs.jsonl"'})
    page = factory.log_service().list(ctx, query)
    return paged([entry.to_api() for entry in page.items], page.next_cursor, request)


@functions_framework.http
def logs(request: Request) -> Response:
    """Entry point: ``GET /api/assistant/workspace/logs``."""
    return router.dispatch(request)
