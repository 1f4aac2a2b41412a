"""The ``files`` function: upload, list, search, count, metadata, edits, moves, content,
delete, and the folders (``/folders``: a folder is the prefix of its files' paths)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import functions_framework
from flask import Request, Response, redirect
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from functions._http import Router, json_response, next_page_headers, paged, read_body
from shared import factory, queries
from shared.config import get_settings
from shared.context import RequestContext
from shared.errors import RangeNotSatisfiable
from shared.jsonbody import get_int, get_str, parse_json_object
from shared.routes import API_PREFIX
from shared.scopes import PUBLIC, needs
from shared.validation import MAX_VERSION, parse_bool

# The services, their models and the edit rules load with the first request that needs
# them (the factory's builders import them): a cold start's import time is a product metric.
if TYPE_CHECKING:
    from shared.files.service import Content
    from shared.models import FileRecord

router = Router(reserved=("count", "search", "upload-url", "batch-delete"))
EDIT_BODY_BYTES = 256 * 1024
SIGNED_ARGS = ("ws", "v", "expires", "sig", "inline")
FILES = f"{API_PREFIX}/files"
FOLDERS = f"{API_PREFIX}/folders"
FOLDER_MOVE_FIELDS = {"from", "to"}
JSON_BODY_MAX = 64 * 1024


@router.route(FILES, methods=["POST"], access=needs("files:write"))
def upload(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    record = factory.file_service().upload(ctx, request.stream, request.content_type,
                                           request.content_length)
    return record.to_api(), 201


@router.route(f"{FILES}/upload-url", methods=["POST"], access=needs("files:write"))
def upload_url(request: Request, ctx: RequestContext) -> tuple[dict[str, object], int]:
    from shared.uploads.issue import UPLOAD_URL_FIELDS

    body = parse_json_object(read_body(request, 64 * 1024), request.content_type,
                             UPLOAD_URL_FIELDS, 64 * 1024)
    return factory.direct_uploads().issue(ctx, body), 201


@router.route(FILES, access=needs("files:read"), params=queries.FILE_LIST_ARGS)
def list_files(request: Request, ctx: RequestContext) -> Response:
    page = factory.file_service().list(ctx, queries.file_query(request.args, ctx, get_settings()))
    return paged([r.to_api() for r in page.items], page.next_cursor, request)


@router.route(f"{FILES}/count", access=needs("files:read"), params=queries.FILE_LIST_ARGS)
def count(request: Request, ctx: RequestContext) -> dict[str, int]:
    # The list's parameters, checked the same way (a count ignores limit and cursor).
    query = queries.file_query(request.args, ctx, get_settings())
    return {"count": factory.file_service().count(ctx, query)}


@router.route(f"{FILES}/search", access=needs("files:read"), params=queries.SEARCH_ARGS)
def search(request: Request, ctx: RequestContext) -> Response:
    query = queries.search_query(request.args, ctx, get_settings())
    hits = factory.file_service().search(ctx, query)
    return json_response([r.to_search_hit() for r in hits.items], headers={
        "X-Total-Count": str(hits.total),
        "X-Total-Is-Lower-Bound": "true" if hits.total_is_lower_bound else "false"})


@router.route(f"{FILES}/<id:file_id>", access=needs("files:read"))
def get_file(request: Request, ctx: RequestContext, file_id: str) -> Response:
    return _record(request, factory.file_service().get(ctx, file_id))


@router.route(f"{FILES}/<id:file_id>", methods=["PATCH"], access=needs("files:write"))
def edit(request: Request, ctx: RequestContext, file_id: str) -> Response:
    from shared.files.edits import (
        EDIT_FIELDS,
        PATH_FIELDS,
        edit_from_json,
        is_move,
        parse_if_match,
    )

    body = parse_json_object(read_body(request, EDIT_BODY_BYTES), request.content_type,
                             EDIT_FIELDS | PATH_FIELDS, EDIT_BODY_BYTES)
    if is_move(body):
        record = factory.folder_service().move_file(
            ctx, file_id, get_str(body, "path"), get_str(body, "filename"),
            get_int(body, "expected_version", minimum=1, maximum=MAX_VERSION),
            parse_if_match(request.headers.get("If-Match")))
        return _record(request, record)
    change = edit_from_json(body, request.headers.get("If-Match"))
    return _record(request, factory.file_edits().edit(ctx, file_id, change))


@router.route(f"{FILES}/<id:file_id>/restore", methods=["POST"], access=needs("files:write"))
def restore(request: Request, ctx: RequestContext, file_id: str) -> Response:
    from shared.files.edits import restore_path

    body = _optional_json(request, {"path"})
    return _record(request, factory.file_edits().restore(ctx, file_id, restore_path(body)))


@router.route(f"{FILES}/<id:file_id>/versions/<int:version>/restore", methods=["POST"],
              access=needs("files:write"))
def restore_version(request: Request, ctx: RequestContext, file_id: str,
                    version: int) -> tuple[dict[str, object], int]:
    body = _optional_json(request, {"expected_version"})
    record = factory.file_edits().restore_version(
        ctx, file_id, version, get_int(body, "expected_version", minimum=1, maximum=MAX_VERSION))
    return record.to_api(), 201


@router.route(f"{FILES}/<id:file_id>/rescan", methods=["POST"], access=needs("files:write"))
def rescan(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.rescans().rescan_file(ctx, file_id).to_api()


@router.route(f"{FILES}/batch-delete", methods=["POST"], access=needs("files:write"))
def batch_delete(request: Request, ctx: RequestContext) -> dict[str, object]:
    body = parse_json_object(read_body(request, 64 * 1024), request.content_type, {"ids"},
                             64 * 1024)
    return {"results": factory.file_edits().batch_delete(ctx, body.get("ids"))}


def _optional_json(request: Request, fields: set[str]) -> dict[str, object]:
    """A JSON body that may be absent (no body, or an empty one, is ``{}``)."""
    raw = read_body(request, 64 * 1024)
    if not raw.strip():
        return {}
    return parse_json_object(raw, request.content_type, fields, 64 * 1024)


def _record(request: Request, record: FileRecord) -> Response:
    """A record as JSON with its ETag; 304 when the caller's ``If-None-Match`` has it."""
    from shared.files.edits import metadata_etag

    response = json_response(record.to_api(), headers={"ETag": metadata_etag(record),
                                                       "Cache-Control": "private, no-cache"})
    return response.make_conditional(request)


@router.route(f"{FILES}/<id:file_id>", methods=["DELETE"], access=needs("files:write"))
def delete(request: Request, ctx: RequestContext, file_id: str) -> dict[str, object]:
    return factory.file_service().delete(ctx, file_id).to_api()


@router.route(f"{FILES}/<id:file_id>/versions", access=needs("files:read"))
def versions(request: Request, ctx: RequestContext, file_id: str) -> list[dict[str, object]]:
    return factory.file_service().versions(ctx, file_id)


@router.route(f"{FILES}/<id:file_id>/content", access=needs("files:read"),
              params=queries.CONTENT_ARGS)
def content(request: Request, ctx: RequestContext, file_id: str) -> Response:
    service, asked = factory.file_service(), queries.content_query(request.args)
    redirect_to = service.redirects_downloads if asked.redirect is None else asked.redirect
    # A read is logged when bytes (or a link to them) go out: not for HEAD, 304 or 416.
    log_read = request.method != "HEAD"
    if asked.redirect is None and not redirect_to:
        opened = service.open_content(ctx, file_id, version=asked.version, log=False)
        response = _send(request, opened, asked.inline)
        if log_read and response.status_code != 304:
            try:
                service.note_read(ctx, opened.record)
            except BaseException:
                response.close()
                raise
        return response
    base = get_settings().public_base_url or request.host_url.rstrip("/")
    url, expires = service.download_link(ctx, file_id, base, asked.inline, asked.version,
                                         log_read=log_read)
    if redirect_to:
        return redirect(url, 302)
    stamp = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
    return json_response({"url": url, "expires_at": stamp})


@router.route(f"{FILES}/<id:file_id>/signed", access=PUBLIC, params=SIGNED_ARGS)
def signed(request: Request, ctx: None, file_id: str) -> Response:
    inline = parse_bool(request.args.get("inline"), "inline")
    return _send(request, factory.file_service().open_signed(file_id, request.args.to_dict()),
                 inline)


def _send(request: Request, opened: Content, inline: bool) -> Response:
    """The bytes, conditional: ``If-None-Match`` on the SHA-256 ETag (304), one ``Range``
    (206, or 416 when it selects nothing), ``HEAD`` without the body. Several ranges in one
    request are served as the whole file (200), which HTTP allows a server to do, and so is
    a ``Range`` in another unit than bytes (or an empty one), which HTTP says to ignore."""
    from shared.download import CHUNK, download_headers  # libmagic and the models

    size = opened.record.size_bytes
    response = Response(wrap_file(request.environ, opened.stream, CHUNK),
                        headers=download_headers(opened.record, inline), direct_passthrough=True)
    environ = request.environ
    asked = environ.get("HTTP_RANGE", "")
    unit, _, ranges = asked.partition("=")
    if "HTTP_RANGE" in environ and ("," in ranges or unit.strip(" \t").lower() != "bytes"):
        environ = {k: v for k, v in environ.items() if k != "HTTP_RANGE"}
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        response.close()
        raise RangeNotSatisfiable(size) from None


@router.route(FOLDERS, access=needs("files:read"), params=queries.FOLDER_ARGS)
def list_folder(request: Request, ctx: RequestContext) -> Response:
    query = queries.folder_query(request.args, ctx, get_settings())
    page = factory.folder_service().list(ctx, query)
    cursor = queries.folder_cursor(page.next_after)
    body = {"path": query.prefix, "folders": [f.to_api() for f in page.folders],
            "files": [r.to_api() for r in page.files], "next_cursor": cursor}
    return json_response(body, headers=next_page_headers(cursor, request))


@router.route(f"{FOLDERS}/move", methods=["POST"], access=needs("files:write"))
def move_folder(request: Request, ctx: RequestContext) -> Response:
    body = parse_json_object(read_body(request, JSON_BODY_MAX), request.content_type,
                             FOLDER_MOVE_FIELDS, JSON_BODY_MAX)
    move = factory.folder_service().move_folder(ctx, get_str(body, "from", required=True) or "",
                                                get_str(body, "to", required=True) or "")
    if move.active:  # Firestore, past the request's budget: resumable, see its status
        return json_response(move.to_api(), 202, {"Location": f"{FOLDERS}/moves/{move.id}"})
    return json_response(move.to_api())


@router.route(f"{FOLDERS}/moves/<move_id>", access=needs("files:read"))
def folder_move(request: Request, ctx: RequestContext, move_id: str) -> dict[str, object]:
    return factory.folder_service().get_move(ctx, move_id).to_api()


@functions_framework.http
def files(request: Request) -> Response:
    """Entry point: everything under ``/api/assistant/workspace/files`` and ``/folders``."""
    return router.dispatch(request)
