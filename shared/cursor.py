"""Opaque pagination cursors: ``encode_cursor`` / ``decode_cursor``.

A cursor is the sort key of the last item a page returned, wrapped in URL-safe base64 and
tagged with its kind, so a log cursor cannot be replayed against the file list. A cursor
only names a position; every query still filters by workspace, so a cursor leaks nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.errors import BadRequest

MAX_CURSOR_CHARS = 512


def encode_cursor(kind: str, key: list[Any]) -> str:
    """Wrap a sort key as an opaque string."""
    raw = json.dumps({"k": kind, "v": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None, arity: int) -> list[Any] | None:
    """Unwrap a cursor of ``kind`` into its key of ``arity`` scalars; 400 if it is not one."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadRequest("invalid cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadRequest("invalid cursor") from exc
    if not isinstance(data, dict) or data.get("k") != kind:
        raise BadRequest("invalid cursor")
    key = data.get("v")
    if not isinstance(key, list) or len(key) != arity:
        raise BadRequest("invalid cursor")
    if not all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in key):
        raise BadRequest("invalid cursor")
    return key
