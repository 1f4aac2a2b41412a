"""The ``auth`` function: ``POST /auth/dev-token``, a dev token for the web app's sign-in form.

It exists only under ``AUTH_MODE=dev`` and never on Cloud Run (``K_SERVICE`` set): anywhere
else it answers 404, as if the route were not there, so a deployment reveals nothing about it.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import UTC, datetime, timedelta

import functions_framework
from flask import Request, Response

from functions._http import Router, read_body
from shared.config import get_settings
from shared.context import RequestContext
from shared.errors import BadRequest, NotFound
from shared.jsonbody import parse_json_object
from shared.routes import API_PREFIX
from shared.scopes import PUBLIC

router = Router()
TOKEN_TTL_SECONDS = 12 * 3600


@functools.cache
def _user_re() -> re.Pattern[str]:
    """A user id ``shared.auth`` accepts; built on first use, since importing that module
    loads PyJWT and cryptography, which a cold start of this function need not pay."""
    from shared.auth import MAX_SUB_CHARS

    return re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{MAX_SUB_CHARS - 1}}}")


@router.route(f"{API_PREFIX}/auth/dev-token", methods=["POST"], access=PUBLIC)
def dev_token(request: Request, ctx: RequestContext | None) -> dict[str, str]:
    if os.environ.get("K_SERVICE") or get_settings().auth_mode != "dev":
        raise NotFound("no such endpoint")
    from shared.auth import MAX_SUB_CHARS, mint_dev_token

    body = parse_json_object(read_body(request, 4096), request.content_type, {"user"}, 4096)
    user = body.get("user")
    if not isinstance(user, str) or not _user_re().fullmatch(user):
        raise BadRequest(f"user must be 1-{MAX_SUB_CHARS} letters, digits or ._@- "
                         "(starting with a letter or digit)")
    expires = datetime.now(UTC) + timedelta(seconds=TOKEN_TTL_SECONDS)
    token = mint_dev_token(get_settings().auth_dev_secret, user, TOKEN_TTL_SECONDS)
    return {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}


@functions_framework.http
def auth(request: Request) -> Response:
    """Entry point: ``POST /api/assistant/workspace/auth/dev-token`` (local dev mode only)."""
    return router.dispatch(request)
