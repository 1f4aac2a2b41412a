"""``read_media_body``: the ``POST /media`` JSON object, read as it arrives.

A media body is one flat JSON object whose ``file`` may be a data URI of a hundred MiB or
more. The standard library, ijson and json-stream all hand a string value over whole, so a
body held that way costs its size twice (bytes, then str) per concurrent request. This
reader walks the body once, in ``READ_CHUNK`` reads, and keeps two things apart:

- a ``file`` value that starts with ``data:`` is decoded from its JSON escapes as it
  arrives and handed, piece by piece, to the caller's ``stage`` (which decodes the base64,
  scans and stages the bytes); only the URI's header stays, as the field's value;
- everything else is copied into a small *skeleton* (at most ``SKELETON_MAX`` characters)
  that ``strict_json`` then parses, so what is valid JSON, which numbers are allowed and
  what counts as invalid Unicode are decided by the same code as for every other body.

Only the top-level object is walked here; nested values are copied for the standard parser
to judge. Unknown and repeated keys are refused as soon as they are read.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from shared.jsonbody import strict_json
from shared.media.datauri import MAX_HEADER_CHARS, DataUri, parse_header

READ_CHUNK = 64 * 1024
SKELETON_MAX = 256 * 1024  # every field but a data: file, together
STREAMED_FIELD = "file"

_WS = re.compile(r"[ \t\n\r]*")
_STOP = re.compile(r'["\\\x00-\x1f]')
_CONTROL_BYTES = bytes(range(0x20))
_SPAN = re.compile(r'(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*')
_HIGH_SURROGATE_TAIL = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}$")
_LITERAL = re.compile(r"[-+.0-9A-Za-z]*")

Stage = Callable[[DataUri], None]


def _invalid(why: str) -> BadRequest:
    return BadRequest(f"the body is not valid JSON ({why})")


class _Text:
    """The body as text: a window over the stream, decoded as UTF-8, its bytes capped."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self._stream, self._max = stream, max_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.total, self.eof = "", 0, 0, False

    def fill(self, need: int = 1) -> bool:
        """Make ``need`` unread characters available; False when the body ends first."""
        while len(self.buf) - self.pos < need and not self.eof:
            raw = self._stream.read(READ_CHUNK)
            self.total += len(raw)
            if self.total > self._max:
                raise PayloadTooLarge(f"the body is larger than {self._max} bytes")
            try:
                text = self._utf8.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                raise BadRequest("the body is not valid UTF-8") from exc
            self.eof = not raw
            self.buf = self.buf[self.pos:] + text
            self.pos = 0
        return len(self.buf) - self.pos >= need

    def peek(self) -> str | None:
        """The next character, or None at the end."""
        return self.buf[self.pos] if self.fill() else None

    def take(self, expected: str) -> None:
        """Consume ``expected`` (one character) or refuse the body."""
        if self.peek() != expected:
            raise _invalid(f"expected {expected!r}")
        self.pos += 1

    def skip_ws(self) -> bool:
        """Skip white space; True when there was some."""
        skipped = False
        while self.fill():
            end = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            skipped = skipped or end > self.pos
            self.pos = end
            if end < len(self.buf):
                break
        return skipped

    def span(self) -> tuple[str, bool]:
        """The next run of a string's raw content (escapes intact), up to its closing quote
        (consumed; then ``True``) or as far as the buffer allows. A cut escape waits."""
        while True:
            if not self.fill():
                raise _invalid("a string is not closed")
            buf, pos = self.buf, self.pos
            end = _plain_end(buf, pos)
            if end == len(buf):
                self.pos = end
                return buf[pos:], False
            if buf[end] == '"':
                self.pos = end + 1
                return buf[pos:end], True
            if buf[end] == "\\":  # the exact (slower) match, from here on
                end = _SPAN.match(buf, pos).end()  # type: ignore[union-attr]
                if end < len(buf) and buf[end] == '"':
                    self.pos = end + 1
                    return buf[pos:end], True
                cut = end == len(buf) or (buf[end] == "\\" and len(buf) - end < 6)
                if cut and end > pos:
                    self.pos = end
                    return buf[pos:end], False
                if cut and not self.eof:
                    self.fill(len(buf) - pos + 1)
                    continue
            raise _invalid("a bad escape or a control character in a string")


def _plain_end(buf: str, pos: int) -> int:
    """Where the plain run from ``pos`` ends: the first quote, backslash or control character
    (or the buffer's end). A data URI is ASCII, where ``find``, ``encode`` and ``translate``
    settle it in C at memory speed (a character-class regex is several times slower, and
    the run is most of the body); anything else goes through the regex."""
    quote = buf.find('"', pos)
    end = len(buf) if quote < 0 else quote
    slash = buf.find("\\", pos, end)
    end = end if slash < 0 else slash
    run = buf[pos:end]
    if run.isascii():
        raw = run.encode("ascii")
        if len(raw.translate(None, _CONTROL_BYTES)) == len(raw):
            return end
    stop = _STOP.search(buf, pos, end)
    return end if stop is None else stop.start()


def _decode(span: str) -> str:
    """A run of raw string content, its escapes decoded."""
    if "\\" not in span:
        return span
    try:
        return json.loads(f'"{span}"')  # type: ignore[no-any-return]
    except ValueError as exc:
        raise _invalid("a bad escape") from exc


def _held_back(span: str) -> int:
    """Where a trailing high-surrogate escape starts (its pair may be in the next run)."""
    match = _HIGH_SURROGATE_TAIL.search(span)
    if match is None:
        return len(span)
    slashes = len(span[: match.start() + 1]) - len(span[: match.start() + 1].rstrip("\\"))
    return match.start() if slashes % 2 else len(span)


class _Reader:
    """One body: the skeleton, the keys seen, whether the data URI was staged."""

    def __init__(self, text: _Text, allowed: set[str], stage: Stage) -> None:
        self.text, self.allowed, self.stage = text, allowed, stage
        self.out: list[str] = []
        self.size = 0
        self.keys: set[str] = set()

    def emit(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > SKELETON_MAX:
            raise PayloadTooLarge(f"the body's fields other than a data: URI 'file' are "
                                  f"larger than {SKELETON_MAX} characters")
        self.out.append(piece)

    def read(self) -> str:
        text = self.text
        text.skip_ws()
        text.take("{")
        self.emit("{")
        text.skip_ws()
        if text.peek() == "}":
            text.pos += 1
        else:
            while True:
                self.member()
                text.skip_ws()
                if text.peek() == ",":
                    text.pos += 1
                    self.emit(",")
                    text.skip_ws()
                    continue
                text.take("}")
                break
        self.emit("}")
        text.skip_ws()
        if text.peek() is not None:
            raise _invalid("data after the object")
        return "".join(self.out)

    def member(self) -> None:
        text = self.text
        if text.peek() != '"':
            raise _invalid("expected a quoted key")
        key = self.key()
        text.skip_ws()
        text.take(":")
        self.emit(":")
        text.skip_ws()
        if key == STREAMED_FIELD and text.peek() == '"':
            text.pos += 1
            self.file_value()
        else:
            self.value()

    def key(self) -> str:
        raw = self.string()
        key = strict_json(raw, "the body")
        if key not in self.allowed:
            raise BadRequest(f"unknown field(s): {key}")
        if key in self.keys:
            raise BadRequest(f"the field {key!r} appears twice")
        self.keys.add(key)
        return key  # type: ignore[no-any-return]

    def string(self) -> str:
        """Copy one string (its opening quote is next) into the skeleton; its raw text."""
        self.text.take('"')
        parts = ['"']
        self.emit('"')
        while True:
            span, ended = self.text.span()  # never cuts an escape, so copies stay valid
            parts.append(span)
            self.emit(span)
            if ended:
                break
        parts.append('"')
        self.emit('"')
        return "".join(parts)

    def value(self) -> None:
        """Copy a value of any type; nested ones are judged later by ``strict_json``."""
        text = self.text
        depth = 0
        while True:
            if text.skip_ws() and depth:
                self.emit(" ")  # keeps ``[1 2]`` from becoming ``[12]``
            char = text.peek()
            if char is None:
                raise _invalid("the body ends inside a value")
            if char == '"':
                self.string()
            elif char in "{[":
                text.pos += 1
                self.emit(char)
                depth += 1
            elif char in "}]" and depth:
                text.pos += 1
                self.emit(char)
                depth -= 1
            elif char in ",:" and depth:
                text.pos += 1
                self.emit(char)
            else:
                self.literal()
            if depth == 0:
                return

    def literal(self) -> None:
        """A number, ``true``, ``false`` or ``null``, copied for ``strict_json`` to judge."""
        text = self.text
        before = self.size
        while text.fill():
            end = _LITERAL.match(text.buf, text.pos).end()  # type: ignore[union-attr]
            self.emit(text.buf[text.pos:end])
            text.pos = end
            if end < len(text.buf):
                break
        if self.size == before:
            raise _invalid("expected a value")

    def content(self) -> Iterator[str]:
        """The rest of the current string, decoded, piece by piece."""
        carry = ""
        while True:
            span, ended = self.text.span()
            span, carry = carry + span, ""
            if not ended:
                cut = _held_back(span)
                span, carry = span[:cut], span[cut:]
            if span:
                yield _decode(span)
            if ended:
                return

    def file_value(self) -> None:
        """``file``: a data URI goes to ``stage`` as it arrives, anything else is copied."""
        content = self.content()
        head = ""
        while len(head) < 5 and (piece := next(content, None)) is not None:
            head += piece
        if head[:5].lower() != "data:":
            for piece in content:
                head += piece
                if len(head) > SKELETON_MAX:
                    break
            self.emit(json.dumps(head))  # 413 when too long; strict_json judges the rest
            return
        window = 5 + MAX_HEADER_CHARS
        while "," not in head[5:window] and len(head) < window:
            piece = next(content, None)
            if piece is None:
                break
            head += piece
        _, _, start = parse_header(head)  # 400 without a ',' in the first characters
        header, rest = head[:start], head[start:]
        self.stage(DataUri.from_pieces(header, itertools.chain([rest], content)))
        for _ in content:  # the stage decodes to the end; this only makes sure
            pass
        self.emit(json.dumps(header))


def read_media_body(stream: IO[bytes], content_type: str | None, content_length: int | None,
                    max_bytes: int, allowed: set[str], stage: Stage) -> dict[str, Any]:
    """The body's fields; a data-URI ``file`` is staged through ``stage`` on the way and
    its value is only the URI's header. 400/413/415 as ``parse_json_object`` answers."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        raise UnsupportedMediaType("the body must be application/json")
    if content_length is not None and content_length > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    skeleton = _Reader(_Text(stream, max_bytes), allowed, stage).read()
    body = strict_json(skeleton, "the body")
    assert isinstance(body, dict)
    return body
