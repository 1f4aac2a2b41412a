"""The ``workspace`` function: workspace summaries and the health check."""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from functions._http import Router, json_response
from shared import factory
from shared.context import RequestContext
from shared.health import health_report
from shared.routes import API_PREFIX

router = Router()


@router.route(API_PREFIX)
def overview(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().overview(ctx)


@router.route(f"{API_PREFIX}/usage")
def usage(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().usage(ctx)


@router.route(f"{API_PREFIX}/summary")
def summary(request: Request, ctx: RequestContext) -> dict[str, object]:
    return factory.workspace_service().summary(ctx)


@router.route("/healthz", public=True)
def healthz(request: Request, ctx: None) -> Response:
    report = health_report(factory.blob_store(), factory.metadata_store(), factory.scanner())
    return json_response(report, 200 if report["status"] == "ok" else 503)


@functions_framework.http
def workspace(request: Request) -> Response:
    """Entry point: ``GET /api/assistant/workspace``, ``/summary`` and ``/healthz``."""
    return router.dispatch(request)
