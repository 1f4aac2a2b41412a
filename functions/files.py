"""The ``files`` function: upload, list, search, count, metadata, content and delete."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from flask import Request, Response, redirect

from functions._http import Router, json_response, paged, read_body
from shared import factory, queries
from shared.config import get_settings
from shared.context import RequestContext
from shared.download import download_headers, iter_stream
from shared.files.service import Content
from shared.jsonbody import parse_json_object
from shared.routes import API_PREFIX
from shared.scopes import PUBLIC, needs
from shared.uploads.issue import UPLOAD_URL_FIELDS
from shared.validation import parse_bool

router = Router(reserved=("count", "search", "upload-url"))
FILES = f"{API_PREFIX}/files"


@router.route(FILES, methods=["POST"], access=needs("files:write"))
def upload(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    record = factory.file_service().upload(ctx, request.stream, request.content_type,
                                           request.content_length)
    return record.to_api(), 201


@router.route(f"{FILES}/upload-url", methods=["POST"], access=needs("files:write"))
def upload_url(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    body = parse_json_object(read_body(request, 64 * 1024), request.content_type,
                             UPLOAD_URL_FIELDS, 64 * 1024)
    return factory.direct_uploads().issue(ctx, body), 201


@router.route(FILES, access=needs("files:read"))
def list_files(request: Request, ctx: RequestContext) -> Response:
    page = factory.file_service().list(ctx, queries.file_query(request.args, ctx, get_settings()))
    return paged([r.to_api() for r in page.items], page.next_cursor, request)


@router.route(f"{FILES}/count", access=needs("files:read"))
def count(request: Request, ctx: RequestContext) -> dict[str, int]:
    # The list's parameters, checked the same way (a count ignores limit and cursor).
    query = queries.file_query(request.args, ctx, get_settings())
    return {"count": factory.file_service().count(ctx, query)}


@router.route(f"{FILES}/search", access=needs("files:read"))
def search(request: Request, ctx: RequestContext) -> list[dict[str, object]]:
    query = queries.search_query(request.args, ctx, get_settings())
    hits = factory.file_service().search(ctx, query)
    return [r.to_search_hit() for r in hits]


@router.route(f"{FILES}/<id:file_id>", access=needs("files:read"))
def get_file(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.file_service().get(ctx, file_id).to_api()


@router.route(f"{FILES}/<id:file_id>", methods=["DELETE"], access=needs("files:write"))
def delete(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.file_service().delete(ctx, file_id).to_api()


@router.route(f"{FILES}/<id:file_id>/versions", access=needs("files:read"))
def versions(request: Request, ctx: RequestContext, file_id: str) -> list[dict[str, object]]:
    queries.no_args(request.args)
    return factory.file_service().versions(ctx, file_id)


@router.route(f"{FILES}/<id:file_id>/content", access=needs("files:read"))
def content(request: Request, ctx: RequestContext, file_id: str) -> Response:
    service, asked = factory.file_service(), queries.content_query(request.args)
    redirect_to = service.redirects_downloads if asked.redirect is None else asked.redirect
    if asked.redirect is None and not redirect_to:
        return _send(service.open_content(ctx, file_id, version=asked.version), asked.inline)
    base = get_settings().public_base_url or request.host_url.rstrip("/")
    url, expires = service.download_link(ctx, file_id, base, asked.inline, asked.version)
    if redirect_to:
        return redirect(url, 302)
    stamp = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
    return json_response({"url": url, "expires_at": stamp})


@router.route(f"{FILES}/<id:file_id>/signed", access=PUBLIC)
def signed(request: Request, ctx: None, file_id: str) -> Response:
    inline = parse_bool(request.args.get("inline"), "inline")
    return _send(factory.file_service().open_signed(file_id, request.args.to_dict()), inline)


def _send(opened: Content, inline: bool) -> Response:
    return Response(iter_stream(opened.stream), headers=download_headers(opened.record, inline),
                    direct_passthrough=True)


@functions_framework.http
def files(request: Request) -> Response:
    """Entry point: everything under ``/api/assistant/workspace/files``."""
    return router.dispatch(request)
