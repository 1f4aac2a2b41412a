"""``read_media_body``: the streamed ``POST /media`` body agrees with ``json.loads``.

The reader is checked against the standard library on generated bodies (every escape, white
space anywhere, reads as small as one byte, so every token is cut somewhere), and a data-URI
``file`` must reach the stage decoded and whole while the memory held stays flat.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import tracemalloc
from collections.abc import Iterator

import pytest

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from shared.media import body as body_module
from shared.media.body import SKELETON_MAX, read_media_body
from shared.media.datauri import DataUri

FIELDS = {"file", "return_format", "graph_exec_id", "session_id", "extra"}
JSON = "application/json"
MiB = 1024 * 1024


class Staged:
    """A stage that keeps what it was handed."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.uris: list[DataUri] = []

    def __call__(self, uri: DataUri) -> None:
        self.uris.append(uri)
        for chunk in uri.chunks(1 << 40):
            self.data += chunk


def read(raw: bytes, stage: Staged | None = None, max_bytes: int = 1 << 30) -> dict:
    return read_media_body(io.BytesIO(raw), JSON, None, max_bytes, FIELDS, stage or Staged())


WORDS = ["plain", "caf\u00e9", "\u2713 ok", "emoji \U0001F600", "quote \" back \\ slash",
         "ctl \n\t\b\f\r", "sl/ash", "", " ", "\u0000nul", "\u2028line"]


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.choice(["str", "str", "num", "lit", "obj", "arr"] if depth < 3 else ["str"])
    if kind == "str":
        return "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))
    if kind == "num":
        return rng.choice([0, -1, 17, 3.5, -2.25e-3, 10**30, 1e300])
    if kind == "lit":
        return rng.choice([True, False, None])
    if kind == "obj":
        return {rng.choice(WORDS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def spaced(text: str, rng: random.Random) -> str:
    """``text`` (compact JSON) with white space added between tokens, never inside strings."""
    out, in_string, escaped = [], False, False
    for char in text:
        if not in_string and char in "{}[],:" and rng.random() < 0.5:
            out.append(rng.choice([" ", "\n", "\t", "\r\n  "]))
        out.append(char)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
    return "".join(out)


def bodies(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        keys = rng.sample(sorted(FIELDS), rng.randint(0, len(FIELDS)))
        obj = {key: random_value(rng) for key in keys}
        compact = json.dumps(obj, ensure_ascii=rng.random() < 0.5, separators=(",", ":"))
        yield spaced(compact, rng)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64 * 1024])
def test_generated_bodies_read_as_json_loads_reads_them(monkeypatch, chunk):
    monkeypatch.setattr(body_module, "READ_CHUNK", chunk)
    for text in bodies(150, seed=chunk):
        assert read(text.encode()) == json.loads(text), text


@pytest.mark.parametrize("chunk", [1, 5, 64 * 1024])
def test_every_cut_of_a_body_is_a_400(monkeypatch, chunk):
    monkeypatch.setattr(body_module, "READ_CHUNK", chunk)
    for text in bodies(12, seed=100 + chunk):
        raw = text.encode()
        for cut in range(len(raw)):
            if raw[:cut].strip() and json_ok(raw[:cut]):
                continue
            with pytest.raises(BadRequest):
                read(raw[:cut])


def json_ok(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


@pytest.mark.parametrize("raw", [
    b"", b"[]", b'"file"', b"{", b"{}x", b"{} {}", b'{"file": }', b'{"file": "a",}',
    b'{"file" "a"}', b'{,"file": "a"}', b'{"file": "a" "b"}', b'{"file": tru}',
    b'{"file": [1 2]}', b'{"file": {"a" 1}}', b'{"file": "\\x"}', b'{"file": "\\u12"}',
    b'{"file": "a\x01b"}', b'{"file": "data:,a\x1fb"}', b'{"file": NaN}',
    b'{"file": 1e999}', b'{"file": "\\ud800"}', b'{"file": "data:,\\udc00"}',
    b'{"file": "data:;base64,\\ud83d\\ude00"}', b'\xef\xbb\xbf{}', b'{"file": "\xff"}',
    b'{"file": "data:;base64,QUJD!"}', b'{"file": "data:image/png;base64"}',
    b'{"file": "data:' + b"x" * 2000 + b',AA"}',
])
def test_malformed_bodies_are_a_400(raw):
    with pytest.raises(BadRequest):
        read(raw)


def test_unknown_and_repeated_fields_are_refused_before_the_file_is_read():
    stage = Staged()
    with pytest.raises(BadRequest, match="unknown field"):
        read(b'{"bogus": 1, "file": "data:,abc"}', stage)
    with pytest.raises(BadRequest, match="twice"):
        read(b'{"file": "a.png", "file": "data:,abc"}', stage)
    assert stage.uris == []


def test_wrong_content_type_and_declared_length():
    with pytest.raises(UnsupportedMediaType):
        read_media_body(io.BytesIO(b"{}"), "text/plain", None, 100, FIELDS, Staged())
    with pytest.raises(PayloadTooLarge):
        read_media_body(io.BytesIO(b"{}"), JSON, 101, 100, FIELDS, Staged())


def test_the_byte_cap_stops_reading(monkeypatch):
    monkeypatch.setattr(body_module, "READ_CHUNK", 1024)
    stream = io.BytesIO(b'{"file": "data:;base64,' + b"A" * (10 * MiB) + b'"}')
    with pytest.raises(PayloadTooLarge):
        read_media_body(stream, JSON, None, MiB, FIELDS, Staged())
    assert stream.tell() <= MiB + 1024


def test_fields_other_than_a_data_uri_are_capped():
    with pytest.raises(PayloadTooLarge):
        read(json.dumps({"file": "x" * (SKELETON_MAX + 1)}).encode())
    with pytest.raises(PayloadTooLarge):
        read(json.dumps({"extra": ["y" * 1000] * 300}).encode())


@pytest.mark.parametrize("chunk", [1, 2, 5, 64 * 1024])
def test_a_data_uri_reaches_the_stage_decoded_and_leaves_its_header(monkeypatch, chunk):
    monkeypatch.setattr(body_module, "READ_CHUNK", chunk)
    payload = os.urandom(3000)
    encoded = base64.b64encode(payload).decode()
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    text = json.dumps({"return_format": "for_local_processing",
                       "file": "data:image\u002fpng;base64," + wrapped, "graph_exec_id": "e1"})
    text = text.replace("/", "\\/")  # as PHP's encoder writes it
    stage = Staged()
    got = read(text.encode(), stage)
    assert bytes(stage.data) == payload
    assert got == {"return_format": "for_local_processing", "file": "data:image/png;base64,",
                   "graph_exec_id": "e1"}
    assert stage.uris[0].declared_type == "image/png"


@pytest.mark.parametrize("chunk", [1, 3, 6, 7, 11, 64 * 1024])
def test_percent_payloads_keep_escaped_surrogate_pairs_across_reads(monkeypatch, chunk):
    monkeypatch.setattr(body_module, "READ_CHUNK", chunk)
    text = "caf\u00e9 \U0001F600 \\\\ud83d done %e2%9c%93 " * 5
    raw = json.dumps({"file": "data:text/plain," + text}).encode()  # \ud83d\ude00 escapes
    stage = Staged()
    read(raw, stage)
    assert bytes(stage.data) == text.replace("%e2%9c%93", "\u2713").encode()


def test_non_data_files_are_plain_values():
    stage = Staged()
    assert read(b'{"file": "https://example.com/a.png"}', stage) == {
        "file": "https://example.com/a.png"}
    assert read(b'{"file": "dat"}', stage) == {"file": "dat"}
    assert read(b'{"file": null, "session_id": null}', stage) == {"file": None,
                                                                   "session_id": None}
    assert read(b'{"file": 5}', stage) == {"file": 5}  # the service says it must be a string
    assert stage.uris == []


def test_memory_stays_flat_while_a_large_data_uri_streams():
    """48 MiB of payload: the reader and decoder hold a few read chunks, not the body."""
    class Body(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = iter([b'{"graph_exec_id": "e", "file": "data:;base64,',
                               *([b"QUJD" * (MiB // 4)] * 64), b'", "return_format": "x"}'])
            self.pending = b""

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            while len(self.pending) < size:
                part = next(self.parts, None)
                if part is None:
                    break
                self.pending += part
            out, self.pending = self.pending[:size], self.pending[size:]
            return out

    seen = 0

    def stage(uri: DataUri) -> None:
        nonlocal seen
        for chunk in uri.chunks(1 << 40):
            seen += len(chunk)

    tracemalloc.start()
    try:
        got = read_media_body(Body(), JSON, None, 1 << 30, FIELDS, stage)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 48 * MiB and got["return_format"] == "x"
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"
