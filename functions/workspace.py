"""The ``workspace`` function: workspace summaries, API keys, the event feed and the health
check.

API keys and ``/events`` live here because their paths fall under this function's prefix in
the route table (``shared.routes``); managing keys needs a user's token. The key service
(JWT and crypto) and the health check load on first use, not at import: cold starts.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router, json_response, read_body
from shared import factory
from shared.context import RequestContext
from shared.jsonbody import parse_json_object
from shared.routes import API_PREFIX
from shared.scopes import PUBLIC, USER_ONLY, needs

router = Router()
KEYS = f"{API_PREFIX}/keys"
SUMMARY_SCOPES = ("files:read", "memory:read", "logs:read")  # it counts all three
KEY_BODY_BYTES = 16 * 1024


@router.route(API_PREFIX, access=needs(*SUMMARY_SCOPES))
def overview(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().overview(ctx)


@router.route(f"{API_PREFIX}/usage", access=needs("files:read"))
def usage(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().usage(ctx)


@router.route(f"{API_PREFIX}/summary", access=needs(*SUMMARY_SCOPES))
def summary(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().summary(ctx)


@router.route(f"{API_PREFIX}/events", access=needs("files:read"), params=("cursor", "limit"))
def events(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.event_feed().page(ctx, request.args.get("cursor"),
                                     request.args.get("limit"))


@router.route(KEYS, methods=["POST"], access=USER_ONLY)
def create_key(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    from shared.apikeys.service import CREATE_FIELDS

    body = parse_json_object(read_body(request, KEY_BODY_BYTES), request.content_type,
                             CREATE_FIELDS, KEY_BODY_BYTES)
    return factory.key_service().create(ctx, body), 201


@router.route(KEYS, access=USER_ONLY)
def list_keys(request: Request, ctx: RequestContext) -> list[dict[str, object]]:
    return factory.key_service().list(ctx)


@router.route(f"{KEYS}/<key_id>", methods=["DELETE"], access=USER_ONLY)
def revoke_key(request: Request, ctx: RequestContext, key_id: str) -> dict[str, object]:
    return factory.key_service().revoke(ctx, key_id)


@router.route("/healthz", access=PUBLIC)
def healthz(request: Request, ctx: None) -> Response:
    from shared.health import health_report

    report = health_report(factory.blob_store(), factory.metadata_store(), factory.scanner())
    return json_response(report, 200 if report["status"] == "ok" else 503)


@functions_framework.http
def workspace(request: Request) -> Response:
    """Entry point: ``GET /api/assistant/workspace``, ``/summary``, ``/usage``, ``/events``,
    ``/keys`` and ``/healthz``."""
    return router.dispatch(request)
