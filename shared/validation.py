"""Input checks shared by every entry point: paths, filenames, ids, tags, limits, booleans.

Every check raises ``BadRequest`` with a message a caller can act on. Virtual paths are
normalised to NFC before they are compared, so two spellings of one name cannot hold two
live files at "the same" path.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from shared.errors import BadRequest
from shared.jsonbody import strict_json

MAX_PATH_CHARS = 1024
MAX_SEGMENT_BYTES = 255
MAX_DESCRIPTION_CHARS = 4000
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 16 * 1024
MAX_QUERY_CHARS = 256
MAX_VERSION = 10**12 - 1  # versions are at most 12 digits, in text and in JSON alike

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_SESSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_FILE_ID_RE = re.compile(r"file_[0-9]{6,12}")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


# Bidi controls reorder what a reader sees ("txt.exe" shown as "exe.txt"): refused in
# free text. Zero-width joiners (U+200D) stay: emoji sequences need them.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_control(value: str) -> bool:
    return bool(_CONTROL_RE.search(value))


def _has_format_char(value: str) -> bool:
    """Invisible format characters (Unicode category Cf: bidi controls, zero-width ones,
    soft hyphens ...): a name holding one does not read as what it is."""
    return any(unicodedata.category(c) == "Cf" for c in value)


def _has_bidi(value: str) -> bool:
    return not _BIDI.isdisjoint(value)


def check_segment(segment: str, what: str) -> str:
    """One path segment or filename: printable, no separators, not ``.``/``..``."""
    if not segment:
        raise BadRequest(f"{what} must not be empty")
    if _has_control(segment):
        raise BadRequest(f"{what} must not contain control characters")
    if _has_format_char(segment):
        raise BadRequest(f"{what} must not contain invisible or bidi format characters")
    if "/" in segment or "\\" in segment:
        raise BadRequest(f"{what} must not contain slashes or backslashes")
    if segment in {".", ".."} or segment.strip(". ") == "":
        raise BadRequest(f"{what} must not be a dot segment")
    if _PERCENT_RE.search(segment):
        raise BadRequest(f"{what} must not contain percent-encoded sequences")
    if segment != segment.strip():
        raise BadRequest(f"{what} must not start or end with white space")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise BadRequest(f"{what} is longer than {MAX_SEGMENT_BYTES} bytes")
    if _WINDOWS_RESERVED.match(segment):
        raise BadRequest(f"{what} is a reserved device name")
    return segment


def check_filename(name: str) -> str:
    """A user-visible filename; NFC-normalised."""
    if not isinstance(name, str):
        raise BadRequest("filename must be a string")
    return check_segment(unicodedata.normalize("NFC", name), "filename")


def check_virtual_path(path: str) -> str:
    """An absolute virtual path such as ``/sessions/abc/image.png``; NFC-normalised."""
    if not isinstance(path, str):
        raise BadRequest("path must be a string")
    path = unicodedata.normalize("NFC", path)
    if not path.startswith("/"):
        raise BadRequest("path must start with '/'")
    if len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"path is longer than {MAX_PATH_CHARS} characters")
    if "\\" in path:
        raise BadRequest("path must not contain backslashes")
    if _has_control(path):
        raise BadRequest("path must not contain control characters")
    if "//" in path:
        raise BadRequest("path must not contain empty segments")
    segments = path.strip("/").split("/")
    if path == "/" or not segments:
        raise BadRequest("path must name a file")
    for segment in segments:
        check_segment(segment, "path segment")
    return path


def check_path_prefix(prefix: str) -> str:
    """A folder prefix for listing: like a path, but ``/`` and a trailing slash are allowed."""
    if prefix == "/":
        return "/"
    if "//" in prefix:
        raise BadRequest("path must not contain empty segments")
    checked = check_virtual_path(prefix.rstrip("/") if prefix != "/" else prefix)
    return checked + "/"


def check_folder_path(value: str, what: str) -> str:
    """A folder of the folder API: ``/`` or an absolute path ending in '/' (a path without
    the slash could name a file, so it is refused rather than guessed)."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} is required")
    if not value.endswith("/"):
        raise BadRequest(f"{what} must be a folder path ending in '/'")
    try:
        return check_path_prefix(value)
    except BadRequest as exc:
        raise BadRequest(f"{what}: {exc.message}") from exc


def check_session_id(value: str) -> str:
    """Session ids become path segments, so they are a strict charset."""
    if not isinstance(value, str) or not _SESSION_RE.fullmatch(value):
        raise BadRequest("session_id must be 1-128 letters, digits, '_' or '-'")
    return value


def check_actor_id(value: str | None, what: str) -> str | None:
    """Agent, task and creator ids: short, printable, no spaces."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise BadRequest(f"{what} must be 1-128 characters of letters, digits or _.:@-")
    return value


def check_label(value: Any, what: str, max_chars: int) -> str:
    """A short name people read (an API key's): 1-``max_chars`` printable characters, no
    invisible or bidi format characters, NFC, surrounding white space dropped."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    text = unicodedata.normalize("NFC", value.strip())
    if not text or len(text) > max_chars:
        raise BadRequest(f"{what} must be 1-{max_chars} characters")
    if _has_control(text) or _has_format_char(text):
        raise BadRequest(f"{what} must not contain control or invisible format characters")
    return text


def check_file_id(value: str) -> str:
    """File ids look like ``file_000001``; anything else cannot exist, so it is a 404 later."""
    return value if _FILE_ID_RE.fullmatch(value or "") else ""


def check_description(value: str) -> str:
    """Free text, bounded, without control characters other than newline and tab."""
    if not isinstance(value, str):
        raise BadRequest("description must be a string")
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(f"description is longer than {MAX_DESCRIPTION_CHARS} characters")
    if _has_control(value.replace("\n", "").replace("\t", "").replace("\r", "")):
        raise BadRequest("description must not contain control characters")
    if _has_bidi(value):
        raise BadRequest("description must not contain bidi control characters")
    return value


def check_tags(values: list[str]) -> tuple[str, ...]:
    """Tags: at most 32, each 1-64 printable characters; order kept, duplicates dropped."""
    if len(values) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags are allowed")
    seen: list[str] = []
    for tag in values:
        if not isinstance(tag, str):
            raise BadRequest("tags must be strings")
        tag = unicodedata.normalize("NFC", tag.strip())
        if not tag or len(tag) > MAX_TAG_CHARS or _has_control(tag) or _has_bidi(tag):
            raise BadRequest(f"each tag must be 1-{MAX_TAG_CHARS} printable characters "
                             "(no bidi controls)")
        if tag not in seen:
            seen.append(tag)
    return tuple(seen)


def check_metadata(raw: str | None) -> dict[str, Any]:
    """The ``metadata`` form field: JSON text of an object of at most 16 KiB."""
    if raw is None or raw == "":
        return {}
    if len(raw.encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return check_metadata_object(strict_json(raw, "metadata"))


def check_metadata_object(value: Any) -> dict[str, Any]:
    """A ``metadata`` value already parsed (a JSON body's): an object of at most 16 KiB."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("metadata must be a JSON object")
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return value


def parse_bool(raw: str | None, what: str, default: bool = False) -> bool:
    """Form and query booleans: true/false/1/0/yes/no; anything else is a 400."""
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise BadRequest(f"{what} must be true or false")


def parse_version(raw: str, what: str) -> int:
    """A version number in text (a form field): 0 to ``MAX_VERSION``."""
    if not re.fullmatch(r"[0-9]{1,12}", raw.strip()):
        raise BadRequest(f"{what} must be a version number")
    return int(raw)


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """A page size: an integer from 1 to ``maximum``; out of range is a 400, not a clamp."""
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,7}", raw.strip()):
        raise BadRequest(f"limit must be an integer from 1 to {maximum}")
    value = int(raw)
    if value < 1 or value > maximum:
        raise BadRequest(f"limit must be an integer from 1 to {maximum}")
    return value


def check_choice(raw: str | None, choices: tuple[str, ...], what: str) -> str | None:
    """An enumerated filter value, or None when absent."""
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise BadRequest(f"{what} must be one of: {', '.join(choices)}")
    return raw


def check_query(raw: str | None, name: str = "query") -> str:
    """A search query: required, non-blank, bounded (``name``: the parameter, for errors)."""
    if raw is None or raw == "":
        raise BadRequest(f"{name} is required")
    if len(raw) > MAX_QUERY_CHARS:
        raise BadRequest(f"{name} is longer than {MAX_QUERY_CHARS} characters")
    if _has_control(raw):
        raise BadRequest(f"{name} must not contain control characters")
    if not raw.strip():
        raise BadRequest(f"{name} is required (it is only white space)")
    return raw.strip()
