"""The ``files`` function: upload, list, search, count, metadata, content, move, delete, and
the folders (``/folders``: a folder is the prefix of its files' paths)."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from flask import Request, Response, redirect

from functions._http import Router, json_response, next_page_headers, paged, read_body
from shared import factory, queries
from shared.config import get_settings
from shared.context import RequestContext
from shared.download import download_headers, iter_stream
from shared.files.folders import parse_if_match
from shared.files.service import Content
from shared.jsonbody import get_int, get_str, parse_json_object
from shared.routes import API_PREFIX
from shared.uploads.issue import UPLOAD_URL_FIELDS
from shared.validation import parse_bool

router = Router(reserved=("count", "search", "upload-url"))
FILES = f"{API_PREFIX}/files"
FOLDERS = f"{API_PREFIX}/folders"
# PATCH /files/{id}: the fields that move or rename a file (more fields are the metadata's).
PATCH_FIELDS = {"path", "filename", "expected_version"}
FOLDER_MOVE_FIELDS = {"from", "to"}
JSON_BODY_MAX = 64 * 1024


@router.route(FILES, methods=["POST"])
def upload(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    record = factory.file_service().upload(ctx, request.stream, request.content_type,
                                           request.content_length)
    return record.to_api(), 201


@router.route(f"{FILES}/upload-url", methods=["POST"])
def upload_url(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    body = parse_json_object(read_body(request, 64 * 1024), request.content_type,
                             UPLOAD_URL_FIELDS, 64 * 1024)
    return factory.direct_uploads().issue(ctx, body), 201


@router.route(FILES)
def list_files(request: Request, ctx: RequestContext) -> Response:
    page = factory.file_service().list(ctx, queries.file_query(request.args, ctx, get_settings()))
    return paged([r.to_api() for r in page.items], page.next_cursor, request)


@router.route(f"{FILES}/count")
def count(request: Request, ctx: RequestContext) -> dict[str, int]:
    # The list's parameters, checked the same way (a count ignores limit and cursor).
    query = queries.file_query(request.args, ctx, get_settings())
    return {"count": factory.file_service().count(ctx, query)}


@router.route(f"{FILES}/search")
def search(request: Request, ctx: RequestContext) -> list[dict[str, object]]:
    query = queries.search_query(request.args, ctx, get_settings())
    hits = factory.file_service().search(ctx, query)
    return [r.to_search_hit() for r in hits]


@router.route(f"{FILES}/<id:file_id>")
def get_file(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.file_service().get(ctx, file_id).to_api()


@router.route(f"{FILES}/<id:file_id>", methods=["DELETE"])
def delete(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.file_service().delete(ctx, file_id).to_api()


@router.route(f"{FILES}/<id:file_id>", methods=["PATCH"])
def patch(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    body = parse_json_object(read_body(request, JSON_BODY_MAX), request.content_type,
                             PATCH_FIELDS, JSON_BODY_MAX)
    expected = parse_if_match(request.headers.get("If-Match"), get_int(body, "expected_version"))
    return factory.folder_service().move_file(
        ctx, file_id, get_str(body, "path"), get_str(body, "filename"), expected).to_api()


@router.route(f"{FILES}/<id:file_id>/versions")
def versions(request: Request, ctx: RequestContext, file_id: str) -> list[dict[str, object]]:
    queries.no_args(request.args)
    return factory.file_service().versions(ctx, file_id)


@router.route(f"{FILES}/<id:file_id>/content")
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


@router.route(f"{FILES}/<id:file_id>/signed", public=True)
def signed(request: Request, ctx: None, file_id: str) -> Response:
    inline = parse_bool(request.args.get("inline"), "inline")
    return _send(factory.file_service().open_signed(file_id, request.args.to_dict()), inline)


@router.route(FOLDERS)
def list_folder(request: Request, ctx: RequestContext) -> Response:
    query = queries.folder_query(request.args, ctx, get_settings())
    page = factory.folder_service().list(ctx, query)
    cursor = queries.folder_cursor(page.next_after)
    body = {"path": query.prefix, "folders": [f.to_api() for f in page.folders],
            "files": [r.to_api() for r in page.files], "next_cursor": cursor}
    return json_response(body, headers=next_page_headers(cursor, request))


@router.route(f"{FOLDERS}/move", methods=["POST"])
def move_folder(request: Request, ctx: RequestContext) -> Response:
    body = parse_json_object(read_body(request, JSON_BODY_MAX), request.content_type,
                             FOLDER_MOVE_FIELDS, JSON_BODY_MAX)
    move = factory.folder_service().move_folder(ctx, get_str(body, "from", required=True) or "",
                                                get_str(body, "to", required=True) or "")
    if move.active:  # Firestore, past the request's budget: resumable, see its status
        return json_response(move.to_api(), 202, {"Location": f"{FOLDERS}/moves/{move.id}"})
    return json_response(move.to_api())


@router.route(f"{FOLDERS}/moves/<move_id>")
def folder_move(request: Request, ctx: RequestContext, move_id: str) -> dict[str, object]:
    queries.no_args(request.args)
    return factory.folder_service().get_move(ctx, move_id).to_api()


def _send(opened: Content, inline: bool) -> Response:
    return Response(iter_stream(opened.stream), headers=download_headers(opened.record, inline),
                    direct_passthrough=True)


@functions_framework.http
def files(request: Request) -> Response:
    """Entry point: everything under ``/api/assistant/workspace/files`` and ``/folders``."""
    return router.dispatch(request)
