"""The ``media`` function: ``store_media_file`` over HTTP, and cleaning an execution's files.

The media service (fetcher, data URIs, the file service) loads on the first request, not at
import: a cold start's import time is a product metric (``bench.imports``).
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router
from shared import factory
from shared.context import RequestContext
from shared.routes import API_PREFIX
from shared.scopes import needs

router = Router()
MEDIA = f"{API_PREFIX}/media"


@router.route(MEDIA, methods=["POST"], access=needs("media"))
def store(request: Request, ctx: RequestContext) -> Response:
    stored = factory.media_service().store_body(ctx, request.stream, request.content_type,
                                                request.content_length)
    # Streamed: a data URI answer is encoded from the exec-dir file as it is sent.
    return Response(stored.json_chunks(), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


@router.route(f"{MEDIA}/<graph_exec_id>", methods=["DELETE"], access=needs("media"))
def clean(request: Request, ctx: RequestContext, graph_exec_id: str) -> dict[str, object]:
    from shared.media.service import ExecutionContext  # with the service, on first use

    execution = ExecutionContext.from_request(ctx, graph_exec_id)
    removed = factory.media_service().clean(graph_exec_id, execution)
    return {"graph_exec_id": graph_exec_id, "files_removed": removed}


@functions_framework.http
def media(request: Request) -> Response:
    """Entry point: everything under ``/api/assistant/workspace/media``."""
    return router.dispatch(request)
