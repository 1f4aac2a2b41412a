"""The ``search`` function: one query across files, memory and logs."""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router
from shared import factory, queries
from shared.config import get_settings
from shared.context import RequestContext
from shared.routes import API_PREFIX
from shared.scopes import needs_by
from shared.search import TYPE_SCOPES, scopes_for

router = Router()


@router.route(f"{API_PREFIX}/search", access=needs_by(scopes_for, *TYPE_SCOPES.values()),
              params=queries.COMBINED_SEARCH_ARGS)
def run_search(request: Request, ctx: RequestContext) -> dict[str, object]:
    query = queries.combined_search_query(request.args, ctx, get_settings())
    return factory.search_service().search(ctx, query)


@functions_framework.http
def search(request: Request) -> Response:
    """Entry point: ``GET /api/assistant/workspace/search``."""
    return router.dispatch(request)
