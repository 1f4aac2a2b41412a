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
# The sort key each kind of cursor carries; a key of other types is not a cursor we issued
# (and an out-of-range integer would overflow the database's 64-bit integers).
KEY_TYPES: dict[str, tuple[type, ...]] = {"files": (int,), "logs": (str, str),
                                          "folders": (str, str)}
# A folder cursor holds a child's name (up to 255 bytes, JSON-escaped): room for it.
MAX_CHARS = {"folders": 2048}
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def encode_cursor(kind: str, key: list[Any]) -> str:
    """Wrap a sort key as an opaque string."""
    raw = json.dumps({"k": kind, "v": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None, arity: int) -> list[Any] | None:
    """Unwrap a cursor of ``kind`` into its key of ``arity`` scalars; 400 if it is not one."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CHARS.get(kind, MAX_CURSOR_CHARS):
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
    expected: tuple[type | tuple[type, ...], ...] = KEY_TYPES.get(kind, ((str, int),) * arity)
    for part, kinds in zip(key, expected, strict=True):
        if isinstance(part, bool) or not isinstance(part, kinds):
            raise BadRequest("invalid cursor")
        if isinstance(part, int) and not _INT_MIN <= part <= _INT_MAX:
            raise BadRequest("invalid cursor")
    return key


def check_cursor(kind: str, cursor: str | None) -> str | None:
    """Validate a cursor of a known ``kind`` up front (400 if invalid); returns it unchanged."""
    decode_cursor(kind, cursor, len(KEY_TYPES[kind]))
    return cursor or None
