"""``shared.fastjson``: orjson where it can, the standard library where orjson refuses, so
what the service stored and answered before reads and encodes the same."""

from __future__ import annotations

import json

import pytest

from shared import fastjson
from shared.jsonbody import encode_json


@pytest.mark.parametrize("text", [
    '{"tags": ["a", "b"], "n": 3, "x": null}',
    '"caf\\u00e9 \\u6570\\u636e"',
    '{"k": "\\ud800"}',  # a lone surrogate, stored before the service refused them
    "12345678901234567890123456789",  # beyond 64 bits: orjson would read a float
    '{"n": -9223372036854775809, "m": 18446744073709551616}',
    '{"n": 9223372036854775807, "f": 0.1, "e": 1e300}',
    '{"v": NaN}',
])
def test_loads_reads_what_the_standard_library_reads(text: str) -> None:
    want, got = json.loads(text), fastjson.loads(text)
    assert json.dumps(got) == json.dumps(want)


def test_dumps_leaves_what_orjson_refuses_to_the_caller() -> None:
    assert fastjson.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert fastjson.dumps({"k": "\ud800"}) is None
    assert fastjson.dumps({1: "int key"}) is None
    assert fastjson.dumps(2**70) is None


@pytest.mark.parametrize("value", [
    {"files": [{"id": "file_1", "tags": ["数据"], "scan": None}], "count": 1},
    {"k": "\ud800"},  # served escaped, never a 500
    {1: "int key"},
    [2**70],
])
def test_every_answer_encodes_to_the_same_value(value: object) -> None:
    body = encode_json(value)
    assert json.loads(body) == json.loads(json.dumps(value))
