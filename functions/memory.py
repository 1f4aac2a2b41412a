"""The ``memory`` function: the global memory, its versions and reverts.

The service's module loads with the service, on the first request, not at import: a cold
start's import time is a product metric (``bench.imports``).
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router, read_body
from shared import factory
from shared.context import RequestContext
from shared.jsonbody import parse_json_object
from shared.routes import API_PREFIX
from shared.scopes import needs

router = Router()
MEMORY = f"{API_PREFIX}/memory"


@router.route(MEMORY, access=needs("memory:read"))
def read(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.memory_service().read(ctx)


@router.route(MEMORY, methods=["POST"], access=needs("memory:write"))
def write(request: Request, ctx: RequestContext) -> dict[str, object]:
    from shared.memory.service import WRITE_FIELDS  # loaded by the factory by now

    service = factory.memory_service()
    limit = service.max_length * 12 + 4096  # \uXXXX surrogate pairs are 12 bytes a char
    body = parse_json_object(read_body(request, limit), request.content_type, WRITE_FIELDS, limit)
    return service.write(ctx, body, request.headers.get("If-Match"))


@router.route(f"{MEMORY}/versions", access=needs("memory:read"))
def versions(request: Request, ctx: RequestContext) -> list[dict[str, object]]:
    return factory.memory_service().versions(ctx)


@router.route(f"{MEMORY}/versions/<version>", access=needs("memory:read"))
def version(request: Request, ctx: RequestContext, version: str) -> dict[str, object]:
    return factory.memory_service().version(ctx, version)


@router.route(f"{MEMORY}/versions/<version>/revert", methods=["POST"],
              access=needs("memory:write"))
def revert(request: Request, ctx: RequestContext, version: str) -> dict[str, object]:
    return factory.memory_service().revert(ctx, version, request.headers.get("If-Match"))


@functions_framework.http
def memory(request: Request) -> Response:
    """Entry point: everything under ``/api/assistant/workspace/memory``."""
    return router.dispatch(request)
