"""``DataUri``: ``data:`` URIs (RFC 2397) decoded piece by piece under a byte cap.

The payload is never decoded in one go: ``chunks`` walks it in slices of ``CHUNK_CHARS``
characters, so the decoded bytes held at any moment are one slice's worth, and the cap is
checked after every slice, long before an oversize payload is fully decoded. Base64 follows
the WHATWG "forgiving" rules browsers use (ASCII white space is ignored, missing padding is
added) but is otherwise strict: an invalid character, or data after padding, is a 400.
Percent-encoded payloads (``data:text/plain,Hello%20World``) are decoded the same way, with a
split ``%XX`` carried to the next slice.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from shared.errors import BadRequest
from shared.media.fetch import too_large

CHUNK_CHARS = 1024 * 1024  # a multiple of 4: base64 slices decode on their own
MAX_HEADER_CHARS = 1024
_WHITESPACE = b" \t\n\r\f"
_MIME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


@dataclass(frozen=True)
class DataUri:
    """A parsed ``data:`` URI; ``declared_type`` is the sender's claim, never trusted.

    The payload is either a string held in memory (``parse``) or pieces still arriving
    (``from_pieces``: a media request body read as it streams in); both decode the same way.
    """

    declared_type: str
    is_base64: bool
    text: str = ""  # the whole URI, when it is held in memory
    start: int = 0  # index of the payload's first character in ``text``
    arriving: Iterator[str] | None = None  # or the payload's pieces, read once

    @classmethod
    def parse(cls, text: str) -> DataUri:
        """Read the header (``data:[<type>][;param]*[;base64],``); 400 when malformed."""
        declared, is_base64, start = parse_header(text)
        return cls(declared, is_base64, text, start)

    @classmethod
    def from_pieces(cls, header: str, payload: Iterator[str]) -> DataUri:
        """A URI whose header (up to and including the ',') is known and whose payload
        arrives as ``payload``; the pieces are consumed once, by ``chunks``."""
        declared, is_base64, start = parse_header(header)
        if start != len(header):
            raise ValueError("the header must end with the payload's ','")
        return cls(declared, is_base64, arriving=payload)

    @property
    def payload_chars(self) -> int:
        """Length of the encoded payload held in memory."""
        return len(self.text) - self.start

    def chunks(self, max_bytes: int, chunk_chars: int = CHUNK_CHARS) -> Iterator[bytes]:
        """The decoded bytes, slice by slice; 413 as soon as they pass ``max_bytes``."""
        decode = self._base64 if self.is_base64 else self._percent
        total = 0
        for piece in decode(chunk_chars):
            total += len(piece)
            if total > max_bytes:
                raise too_large(max_bytes)
            if piece:
                yield piece

    def _pieces(self, chunk_chars: int) -> Iterator[str]:
        if self.arriving is not None:
            return self.arriving
        text = self.text
        return (text[offset: offset + chunk_chars]
                for offset in range(self.start, len(text), chunk_chars))

    def _slices(self, chunk_chars: int) -> Iterator[bytes]:
        for piece in self._pieces(chunk_chars):
            try:
                yield piece.encode("ascii")
            except UnicodeEncodeError:
                if self.is_base64:
                    raise BadRequest("the data URI's base64 payload is not ASCII") from None
                try:
                    yield piece.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate
                    raise BadRequest("the data URI holds invalid Unicode") from None

    def _base64(self, chunk_chars: int) -> Iterator[bytes]:
        carry = b""
        padded = False
        for raw in self._slices(chunk_chars - chunk_chars % 4 or 4):
            data = carry + raw.translate(None, _WHITESPACE)
            usable = len(data) - len(data) % 4
            if usable and padded:
                raise BadRequest("the data URI has data after its base64 padding")
            yield _b64(memoryview(data)[:usable])
            padded = padded or (usable > 0 and data[usable - 1] == 0x3D)  # '=' ends it
            carry = data[usable:]
            if padded and carry:
                raise BadRequest("the data URI has data after its base64 padding")
        if carry:
            if padded or len(carry) == 1:
                raise BadRequest("the data URI's base64 payload is truncated")
            yield _b64(carry + b"=" * (-len(carry) % 4))

    def _percent(self, chunk_chars: int) -> Iterator[bytes]:
        carry = b""
        for raw in self._slices(chunk_chars):
            data = carry + raw
            cut = data.rfind(b"%", max(0, len(data) - 2))
            if cut >= 0:  # a '%' in the last two characters may continue in the next slice
                data, carry = data[:cut], data[cut:]
            else:
                carry = b""
            yield unquote_to_bytes(data)
        if carry:
            yield unquote_to_bytes(carry)


def parse_header(text: str) -> tuple[str, bool, int]:
    """``(declared_type, is_base64, payload_start)`` of a ``data:`` URI; 400 when malformed.

    Only the first ``MAX_HEADER_CHARS`` characters are looked at for the ','."""
    if not text[:5].lower() == "data:":
        raise BadRequest("not a data URI")
    comma = text.find(",", 5, 5 + MAX_HEADER_CHARS)
    if comma < 0:
        raise BadRequest("the data URI has no ',' after its header")
    params = [p.strip() for p in text[5:comma].split(";")]
    is_base64 = len(params) > 1 and params[-1].lower() == "base64"
    declared = params[0] if _MIME_RE.fullmatch(params[0]) else "text/plain"
    return declared.lower(), is_base64, comma + 1


def _b64(data: bytes | memoryview) -> bytes:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error as exc:
        raise BadRequest("the data URI's base64 payload is invalid") from exc
