"""``DataUri``: streaming decode, forgiving-but-strict base64, percent-encoding, the cap."""

from __future__ import annotations

import base64
import os

import pytest

from shared.errors import BadRequest, PayloadTooLarge
from shared.media.datauri import DataUri

MiB = 1024 * 1024


def decode(uri: str, max_bytes: int = 10 * MiB, chunk_chars: int = 1024 * 1024) -> bytes:
    return b"".join(DataUri.parse(uri).chunks(max_bytes, chunk_chars))


@pytest.mark.parametrize("payload", [b"", b"a", b"ab", b"abc", b"abcd", os.urandom(1000)])
@pytest.mark.parametrize("chunk_chars", [4, 8, 12, 1024 * 1024])
def test_base64_round_trips_at_every_slice_size(payload, chunk_chars):
    uri = "data:application/octet-stream;base64," + base64.b64encode(payload).decode()
    assert decode(uri, chunk_chars=chunk_chars) == payload


def test_header_parsing():
    uri = DataUri.parse("data:image/PNG;name=x.png;base64,AAAA")
    assert (uri.declared_type, uri.is_base64) == ("image/png", True)
    plain = DataUri.parse("data:,hi")
    assert (plain.declared_type, plain.is_base64) == ("text/plain", False)
    assert DataUri.parse("DATA:text/html;charset=utf-8,x").declared_type == "text/html"
    with pytest.raises(BadRequest, match="no ','"):
        DataUri.parse("data:image/png;base64")
    with pytest.raises(BadRequest, match="no ','"):
        DataUri.parse("data:" + "x" * 5000 + ",AAAA")  # the header is bounded


def test_whitespace_is_ignored_and_missing_padding_is_added():
    payload = os.urandom(301)
    text = base64.b64encode(payload).decode()
    spaced = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    assert decode("data:;base64," + spaced, chunk_chars=16) == payload
    assert decode("data:;base64," + text.rstrip("=")) == payload


@pytest.mark.parametrize("payload", ["QQ==QUJD", "QUJD!A==", "QUJDR", "Q", "QQ==\nQUJD"])
def test_invalid_base64_is_a_400(payload):
    with pytest.raises(BadRequest):
        decode("data:;base64," + payload)


def test_data_after_padding_is_caught_across_slice_boundaries():
    # "QQ==" then "QUJD": each 4-character slice is valid alone; together they are not.
    with pytest.raises(BadRequest, match="after its base64 padding"):
        decode("data:;base64,QQ==QUJD", chunk_chars=4)


def test_data_after_padding_is_caught_when_the_next_slice_is_short():
    # The padded group ends one slice; the next slice holds fewer than 4 characters.
    with pytest.raises(BadRequest, match="after its base64 padding"):
        decode("data:;base64," + "A" * 4 + "QQ==" + "QQ", chunk_chars=8)


def test_non_ascii_base64_is_a_400():
    with pytest.raises(BadRequest, match="not ASCII"):
        decode("data:;base64,QUJD\u00e9")


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 5, 1024])
def test_percent_encoding_with_escapes_split_across_slices(chunk_chars):
    assert decode("data:,Hello%20World%21%e2%9c%93", chunk_chars=chunk_chars) == \
        "Hello World!\u2713".encode()
    assert decode("data:,caf\u00e9") == "caf\u00e9".encode()  # raw non-ASCII is taken as UTF-8
    assert decode("data:,100%") == b"100%"  # a dangling '%' stays literal


def test_the_cap_stops_decoding_early():
    """An oversize payload is refused after about one slice past the cap, not at the end."""
    payload = "A" * (64 * MiB)  # decodes to 48 MiB of zeros
    uri = DataUri.parse("data:;base64," + payload)
    decoded = 0
    with pytest.raises(PayloadTooLarge) as info:
        for chunk in uri.chunks(max_bytes=2 * MiB, chunk_chars=MiB):
            decoded += len(chunk)
    assert decoded <= 2 * MiB  # nothing past the cap was handed on
    assert info.value.extra["max_bytes"] == 2 * MiB


def test_exactly_the_cap_is_allowed():
    payload = os.urandom(3000)
    uri = "data:;base64," + base64.b64encode(payload).decode()
    assert decode(uri, max_bytes=3000) == payload
    with pytest.raises(PayloadTooLarge):
        decode(uri, max_bytes=2999)
