"""JSON on the hot paths through orjson, with the standard library behind it.

Why: every listed record is parsed from its row (tags, metadata, scan record) and encoded
into the answer; with the standard library these were about 13 us of the 20 us a row of
``GET /files`` cost (``bench/RESULTS.md``), and a page of 100 rows doubled a listing's time.
orjson does the same work in C. Where it refuses what the standard library accepts, the
standard library reads or writes as it always did: a lone surrogate (text stored before
the service refused them), a key that is not a string, NaN or Infinity in stored text.
orjson reads an integer beyond 64 bits as a float, silently, so text with a run of 19
digits or more (an integer that may not fit) is read by the standard library too. One
difference remains: orjson writes a NaN or Infinity float as ``null`` where the standard
library (``allow_nan=False``) raised; no request can store one (``jsonbody`` refuses them),
so only a value the service computed could carry one. Request bodies are parsed elsewhere
(``jsonbody``) with stricter rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")


def loads(text: str) -> Any:
    """The value of JSON text the service wrote itself."""
    if len(text) > 18 and _LONG_DIGITS.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes | None:
    """Compact UTF-8 JSON, or None when orjson refuses the value (the caller falls back)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: surrogates, big ints, odd keys or types
        return None
