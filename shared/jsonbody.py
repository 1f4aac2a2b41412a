"""Reading JSON request bodies strictly: ``parse_json_object`` and typed field getters.

Strict means: the body must be a JSON object, unknown keys are refused, and a field of the
wrong type is a 400 (``"append": "yes"`` is not a boolean), so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from shared import fastjson
from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def parse_json_object(raw: bytes, content_type: str | None, allowed: set[str],
                      max_bytes: int) -> dict[str, Any]:
    """The body as a dict with only ``allowed`` keys; 400/413/415 otherwise."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        raise UnsupportedMediaType("the body must be application/json")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not valid UTF-8") from exc
    body = strict_json(text, "the body")
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    return body


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON that never fails: a string no store should hold (a lone surrogate, from
    data written before the service refused them) is escaped, never a 500."""
    fast = fastjson.dumps(value)
    if fast is not None:
        return fast
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, allow_nan=False).encode("ascii")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str, what: str) -> Any:
    """Parse RFC 8259 JSON: no NaN/Infinity, no numbers that overflow to infinity, no lone
    surrogates (``"\\ud800"`` escapes to a string no store or response can encode), and a
    400 (not a crash) for nesting deep enough to exhaust the parser's recursion."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"{what} is not valid JSON") from exc
    _check_values(value, what)
    return value


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a UTF-16 surrogate: not Unicode text, unencodable as UTF-8."""
    return _SURROGATE.search(text) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_values(value: Any, what: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise BadRequest(f"{what} is not valid JSON (a number is out of range)")
        if isinstance(item, str) and has_surrogate(item):
            raise BadRequest(f"{what} holds invalid Unicode (a lone surrogate)")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def get_str(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    """A string field."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string")
    return value


def get_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    """A JSON boolean field (not a string, not a number)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be true or false")
    return value


def get_int(body: dict[str, Any], key: str, minimum: int = 0,
            maximum: int | None = None) -> int | None:
    """A JSON integer field from ``minimum`` to ``maximum`` (booleans and floats such as
    ``1.0`` are not integers here)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or (
            maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(f"'{key}' must be an integer {bound}")
    return value
