"""Hostile input, table-driven: every case is a 4xx with a JSON ``{"error": ...}`` body, never a
500, and leaves nothing behind (no blob, no staging file, no record, no log entry).

Multipart bodies are built by hand, so the table can hold bodies no well-behaved client
would send (bad boundaries, truncation, NUL bytes in headers, non-UTF-8 values).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import API, storage_snapshot

BOUNDARY = "hostile-boundary-7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
PRIOR_ID = "file_000001"


# -- building raw multipart bodies -----------------------------------------------------------
def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def field(name: str | bytes, value: str | bytes) -> bytes:
    """One text part."""
    return (b"--" + BOUNDARY.encode() + b"\r\n"
            b'Content-Disposition: form-data; name="' + _bytes(name) + b'"\r\n\r\n'
            + _bytes(value) + b"\r\n")


def file_part(filename: str | bytes = "hello.txt", content: bytes = b"hello world\n",
              name: str = "file") -> bytes:
    """One file part (the filename goes into the header verbatim)."""
    return (b"--" + BOUNDARY.encode() + b"\r\n"
            b'Content-Disposition: form-data; name="' + name.encode() + b'"; filename="'
            + _bytes(filename) + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")


def closing() -> bytes:
    return b"--" + BOUNDARY.encode() + b"--\r\n"


def form(*fields: tuple[str, str | bytes], file_first: bool = False,
         filename: str | bytes = "hello.txt") -> bytes:
    """A complete body: the given fields and one good file part (last unless ``file_first``)."""
    parts = [field(name, value) for name, value in fields]
    the_file = file_part(filename)
    return b"".join([the_file, *parts] if file_first else [*parts, the_file]) + closing()


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# -- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile request and the status the service must answer with."""

    method: str
    url: str  # relative to the API prefix
    status: int
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    needs_file: bool = False  # upload ``prior.txt`` (file_000001) first


def upload(body: bytes, status: int = 400, content_type: str = MULTIPART,
           headers: tuple[tuple[str, str], ...] = ()) -> Case:
    return Case("POST", "/files", status, body, content_type, headers)


def get(url: str, status: int = 400, needs_file: bool = False) -> Case:
    return Case("GET", url, status, needs_file=needs_file)


BAD_PATHS = {
    "dotdot-relative": "../etc/passwd",
    "dotdot-inside": "/a/../b.txt",
    "encoded-dotdot-inside": "/a/%2e%2e/b.txt",
    "encoded-dotdot-root": "/%2e%2e/x",
    "encoded-slash": "/a%2fb.txt",
    "backslash": "/a\\b.txt",
    "nul": "/a/b\x00.txt",
    "bell": "/a\x07b",
    "newline": "/a/b\n.txt",
    "del": "/a/b\x7f.txt",
    "c1-control": "/a/b\x85.txt",
    "2000-chars": "/" + "a/" * 999 + "b",
    "300-byte-segment": "/" + "a" * 300,
    "300-byte-multibyte-segment": "/" + "é" * 150,
    "relative": "a/b.txt",
    "empty-leading-segment": "//x",
    "only-slashes": "//",
    "empty-middle-segment": "/a//b",
    "dot-segment": "/./x",
    "trailing-dot-segment": "/a/.",
    "dotdot-folder": "/a/../",
    "dots-only-segment": "/a/.../b",
    "leading-space": "/a/ b.txt",
    "reserved-device": "/a/CON",
    "reserved-device-ext": "/a/nul.txt",
}

BAD_FILENAMES = {
    "dotdot": "..",
    "dot": ".",
    "slash": "a/b",
    "backslash": "a\\b",
    "nul": "a\x00b.txt",
    "bell": "a\x07b.txt",
    "escape": "a\x1b[31mb.txt",
    "empty": "",
    "blank": "   ",
    "300-bytes": "a" * 296 + ".txt",
    "con": "CON",
    "aux-ext": "aux.txt",
    "percent-encoded": "a%2fb.txt",
}

CASES: list = []


def add(case_id: str, case: Case, marks: tuple = ()) -> None:
    CASES.append(pytest.param(case, id=case_id, marks=marks))


# Upload: the ``path`` form field, checked as it arrives (before the file) and after it.
for name, value in BAD_PATHS.items():
    add(f"upload-path-{name}", upload(form(("path", value))))
add("upload-path-after-file-dotdot", upload(form(("path", "/a/../b.txt"), file_first=True)))
add("upload-path-after-file-nul", upload(form(("path", "/a\x00b"), file_first=True)))

# Upload: the multipart part's filename and the ``filename`` form field.
for name, value in BAD_FILENAMES.items():
    # In a quoted-string header parameter a backslash is an escape, so a client sends ``\\``.
    raw = value.replace("\\", "\\\\")
    add(f"upload-part-filename-{name}", upload(form(filename=raw)))
    add(f"upload-filename-field-{name}", upload(form(("filename", value))))
add("upload-part-filename-crlf-header-injection",
    upload(form(filename=b"a.txt\r\nContent-Type: text/html")))
add("upload-part-filename-invalid-utf8", upload(form(filename=b"a\xff\xfe.txt")))
add("upload-part-filename-rfc5987-traversal",
    upload(b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"file\"; "
           b"filename*=UTF-8''..%2F..%2Fetc%2Fpasswd\r\n\r\nx\r\n" + closing()))

# Upload: malformed multipart.
add("upload-json-content-type", upload(b'{"file": "x"}', 415, "application/json"))
add("upload-urlencoded-content-type",
    upload(b"file=x", 415, "application/x-www-form-urlencoded"))
add("upload-no-content-type", Case("POST", "/files", 415, form()))
add("upload-missing-boundary", upload(form(), content_type="multipart/form-data"))
add("upload-empty-boundary", upload(form(), content_type="multipart/form-data; boundary="))
add("upload-overlong-boundary", upload(form(), content_type="multipart/form-data; boundary="
                                       + "b" * 201))
add("upload-non-ascii-boundary",
    upload(form(), content_type="multipart/form-data; boundary=caf\u00e9"))
add("upload-wrong-boundary",
    upload(form(), content_type="multipart/form-data; boundary=not-the-one"))
add("upload-truncated-before-closing-boundary", upload(form()[: -len(closing())]))
add("upload-truncated-mid-file", upload(form()[: form().index(b"hello world") + 5]))
add("upload-empty-body", upload(b""))
add("upload-garbage-body", upload(b"this is not multipart at all\r\n"))
add("upload-no-file-part", upload(field("description", "x") + closing()))
add("upload-only-closing-boundary", upload(closing()))
add("upload-two-file-parts",
    upload(file_part("a.txt") + file_part("b.txt") + closing()))
add("upload-file-part-other-name", upload(file_part(name="upload") + closing()))
add("upload-file-part-without-filename", upload(field("file", "hello") + closing()))
add("upload-part-without-disposition",
    upload(b"--" + BOUNDARY.encode() + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n"
           + file_part() + closing()))
add("upload-unknown-field", upload(form(("colour", "red"))))
add("upload-unknown-field-after-file", upload(form(("colour", "red"), file_first=True)))
add("upload-field-over-64KiB", upload(form(("description", "d" * (64 * 1024 + 1))), 413))
add("upload-description-over-4000-chars", upload(form(("description", "d" * 4001))))
add("upload-description-control-char", upload(form(("description", "a\x00b"))))
add("upload-non-utf8-field", upload(form(("description", b"caf\xe9"))))
add("upload-non-utf8-path", upload(form(("path", b"/caf\xe9.txt"))))
add("upload-repeated-single-field", upload(form(("path", "/a.txt"), ("path", "/b.txt"))))
add("upload-overwrite-maybe", upload(form(("overwrite", "maybe"))))
add("upload-metadata-not-json", upload(form(("metadata", "{not json"))))
add("upload-metadata-json-array", upload(form(("metadata", "[1, 2]"))))
add("upload-metadata-json-string", upload(form(("metadata", '"x"'))))
add("upload-metadata-over-16KiB",
    upload(form(("metadata", json.dumps({"k": "v" * 17000})))))
add("upload-33-tags", upload(form(*[("tags", f"t{n}") for n in range(33)])))
add("upload-33-tags-after-file",
    upload(form(*[("tags", f"t{n}") for n in range(33)], file_first=True)))
add("upload-65-char-tag", upload(form(("tags", "t" * 65))))
add("upload-blank-tag", upload(form(("tags", "  "))))
add("upload-control-char-tag", upload(form(("tags", "a\x00b"))))
add("upload-session-id-dotdot", upload(form(("session_id", "../x"))))
add("upload-session-id-space", upload(form(("session_id", "a b"))))
add("upload-session-id-slash", upload(form(("session_id", "a/b"))))
add("upload-session-id-129-chars", upload(form(("session_id", "s" * 129))))
add("upload-created-by-space", upload(form(("created_by", "a b"))))
add("upload-created-by-slash", upload(form(("created_by", "../agent"))))
add("upload-created-by-129-chars", upload(form(("created_by", "c" * 129))))
add("upload-created-by-markup", upload(form(("created_by", "<script>"))))
add("upload-field-name-nul", upload(form(("pa\x00th", "/x.txt"))))
for header, slug, value in [("X-Session-Id", "dotdot", "../x"), ("X-Session-Id", "space", "a b"),
                            ("X-Session-Id", "slash", "a/b"), ("X-Agent-Id", "space", "a b"),
                            ("X-Agent-Id", "markup", "<script>"),
                            ("X-Agent-Id", "129-chars", "a" * 129),
                            ("X-Task-Id", "dotdot", "../../t"), ("X-Task-Id", "bell", "t\x07"),
                            ("X-Task-Id", "latin1", "t\xe9")]:
    add(f"upload-header-{header}-{slug}", upload(form(), headers=((header, value),)))
    add(f"list-header-{header}-{slug}", Case("GET", "/files", 400, headers=((header, value),)))

# Query parameters on the list, count, search and log endpoints.
FILES_CURSOR = b64({"k": "files", "v": [1]})
LOGS_CURSOR = b64({"k": "logs", "v": ["2024-01-01T00:00:00.000000Z", "log_x"]})
BAD_CURSORS = {
    "garbage": "!!!not-a-cursor!!!",
    "not-base64-json": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "base64-json-array": b64([1, 2]),
    "base64-json-no-kind": b64({"v": [1]}),
    "base64-wrong-arity": b64({"k": "files", "v": [1, 2]}),
    "base64-bool-key": b64({"k": "files", "v": [True]}),
    "base64-string-key": b64({"k": "files", "v": ["x"]}),
    "base64-huge-int-key": b64({"k": "files", "v": [10**30]}),
    "base64-float-key": b64({"k": "files", "v": [1.5]}),
    "too-long": "A" * 600,
}
for name, cursor in BAD_CURSORS.items():
    add(f"list-cursor-{name}", get(f"/files?cursor={cursor}"))
    add(f"count-cursor-{name}", get(f"/files/count?cursor={cursor}"))
add("list-cursor-from-logs", get(f"/files?cursor={LOGS_CURSOR}"))
add("logs-cursor-from-files", get(f"/logs?cursor={FILES_CURSOR}"))
add("logs-cursor-garbage", get("/logs?cursor=garbage!!"))
add("logs-cursor-int-keys", get(f"/logs?cursor={b64({'k': 'logs', 'v': [1, 2]})}"))
add("logs-cursor-huge-int", get(f"/logs?cursor={b64({'k': 'logs', 'v': [10**30, 'x']})}"))
add("logs-jsonl-cursor-garbage", get("/logs?format=jsonl&cursor=garbage!!"))
add("logs-jsonl-cursor-from-files", get(f"/logs?format=jsonl&cursor={FILES_CURSOR}"))

BAD_LIMITS = {"abc": "abc", "negative": "-1", "zero": "0", "fraction": "1.5",
              "huge": "99999999999999999999", "over-max": "1001", "blank-ish": "%20",
              "hex": "0x10", "exponent": "1e3"}
for endpoint, base in [("list", "/files?"), ("count", "/files/count?"),
                       ("search", "/files/search?query=x&"), ("logs", "/logs?"),
                       ("logs-jsonl", "/logs?format=jsonl&")]:
    for name, value in BAD_LIMITS.items():
        add(f"{endpoint}-limit-{name}", get(f"{base}limit={value}"))
    add(f"{endpoint}-unknown-param", get(f"{base}colour=red"))
    add(f"{endpoint}-repeated-limit", get(f"{base}limit=1&limit=2"))

for endpoint, base in [("list", "/files?"), ("count", "/files/count?"),
                       ("search", "/files/search?query=x&")]:
    add(f"{endpoint}-unknown-file-type", get(f"{base}file_type=executable"))
    add(f"{endpoint}-repeated-file-type", get(f"{base}file_type=image&file_type=video"))
for endpoint, base in [("list", "/files?"), ("count", "/files/count?")]:
    add(f"{endpoint}-path-dotdot-relative", get(f"{base}path=../x"))
    add(f"{endpoint}-path-dotdot-inside", get(f"{base}path=/a/../b"))
    add(f"{endpoint}-path-nul", get(f"{base}path=/a%00b"))
    add(f"{endpoint}-path-backslash", get(f"{base}path=/a%5Cb"))
    add(f"{endpoint}-session-id-dotdot", get(f"{base}session_id=../x"))
    add(f"{endpoint}-path-outside-session", get(f"{base}session_id=s1&path=/sessions/s2/"))
    add(f"{endpoint}-include-all-sessions-maybe", get(f"{base}include_all_sessions=maybe"))
    add(f"{endpoint}-created-by-space", get(f"{base}created_by=a%20b"))
    add(f"{endpoint}-65-char-tag", get(f"{base}tags={'t' * 65}"))
    add(f"{endpoint}-33-tags", get(base + "&".join(f"tags=t{n}" for n in range(33))))
    add(f"{endpoint}-repeated-path", get(f"{base}path=/a&path=/b"))

add("search-missing-query", get("/files/search"))
add("search-empty-query", get("/files/search?query="))
add("search-blank-query", get("/files/search?query=%20%20%20"))
add("search-query-257-chars", get(f"/files/search?query={'q' * 257}"))
add("search-query-control-char", get("/files/search?query=a%07b"))
add("search-repeated-query", get("/files/search?query=a&query=b"))

for name, value in [("not-a-date", "not-a-date"), ("number", "12345x"),
                    ("month-13", "2024-13-01"), ("bad-offset", "2024-01-01T00:00:00%2B99:00"),
                    ("year-1-east-of-utc", "0001-01-01T00:00:00%2B05:00"),
                    ("year-9999-west-of-utc", "9999-12-31T23:59:59-05:00")]:
    add(f"logs-since-{name}", get(f"/logs?since={value}"))
    add(f"logs-until-{name}", get(f"/logs?until={value}"))
add("logs-since-after-until", get("/logs?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z"))
add("logs-since-equals-until", get("/logs?since=2025-01-01T00:00:00Z&until=2025-01-01T00:00:00Z"))
add("logs-unknown-operation-type", get("/logs?operation_type=explode"))
add("logs-unknown-resource-type", get("/logs?resource_type=database"))
add("logs-resource-id-space", get("/logs?resource_id=a%20b"))
add("logs-agent-id-markup", get("/logs?agent_id=%3Cscript%3E"))
add("logs-task-id-slash", get("/logs?task_id=a/b"))
add("logs-format-xml", get("/logs?format=xml"))
add("logs-repeated-format", get("/logs?format=json&format=jsonl"))
add("logs-repeated-operation-type", get("/logs?operation_type=read&operation_type=create"))

# Content flags (a real file exists, so the flag itself is what fails).
add("content-redirect-maybe", get(f"/files/{PRIOR_ID}/content?redirect=maybe", needs_file=True))
add("content-inline-maybe", get(f"/files/{PRIOR_ID}/content?inline=maybe", needs_file=True))
add("content-redirect-false-inline-maybe",
    get(f"/files/{PRIOR_ID}/content?redirect=false&inline=maybe", needs_file=True))

# Unknown and odd file ids.
for name, file_id in [("unknown-number", "file_999999"), ("word", "nope"),
                      ("nul-suffix", "file_000001%00"), ("encoded-traversal", "..%2f..%2fetc"),
                      ("short-number", "file_1"), ("negative", "file_-00001"),
                      ("newline-suffix", "file_000001%0A"),
                      ("sql-ish", "file_000001'%20OR%20'1'='1"),
                      ("arabic-indic-digits", "file_" + "%D9%A1" * 6),
                      ("huge-number", "file_" + "9" * 40)]:
    add(f"metadata-{name}", get(f"/files/{file_id}", 404, needs_file=True))
    add(f"content-{name}", get(f"/files/{file_id}/content", 404, needs_file=True))
    add(f"content-link-{name}", get(f"/files/{file_id}/content?redirect=false", 404,
                                     needs_file=True))
    add(f"delete-{name}", Case("DELETE", f"/files/{file_id}", 404, needs_file=True))

# Routes and methods.
for name, url in [("root-typo", "/filez"), ("files-subroute", "/files/file_000001/content/x"),
                  ("logs-subroute", "/logs/1"), ("summary-subroute", "/summary/x"),
                  ("deep", "/a/b/c/d"), ("encoded-traversal", "/..%2f..%2fetc%2fpasswd")]:
    add(f"unknown-route-{name}", get(url, 404))
add("put-files", Case("PUT", "/files", 405, body=b"x"))
add("patch-file-not-json", Case("PATCH", f"/files/{PRIOR_ID}", 415, body=b"x", needs_file=True))
add("put-file", Case("PUT", f"/files/{PRIOR_ID}", 405, body=b"x", needs_file=True))
add("post-file-id", Case("POST", f"/files/{PRIOR_ID}", 405, body=form(), content_type=MULTIPART,
                         needs_file=True))
add("delete-files", Case("DELETE", "/files", 405))
add("post-logs", Case("POST", "/logs", 405, body=b"{}", content_type="application/json"))
add("delete-logs", Case("DELETE", "/logs", 405))
add("post-summary", Case("POST", "/summary", 405, body=b"{}", content_type="application/json"))

# Invalid Unicode (a lone surrogate escaped in JSON, bytes that are not UTF-8) and invisible
# or bidi format characters (a name that does not read as what it is): 400, nothing stored.
SURROGATE_JSON = '{"k": "\\ud800"}'
add("upload-metadata-lone-surrogate", upload(form(("metadata", SURROGATE_JSON))))
add("upload-metadata-lone-surrogate-key", upload(form(("metadata", '{"\\udfff": 1}'))))
for name, text in [("rlo", "invoice\u202etxt.exe"), ("lri", "a\u2066b"), ("lrm", "a\u200eb"),
                   ("pdi", "a\u2069b")]:
    add(f"upload-description-bidi-{name}", upload(form(("description", text))))
    add(f"upload-tag-bidi-{name}", upload(form(("tags", text))))
for name, text in [("rlo", "invoice\u202etxt.exe"), ("zero-width-space", "a\u200bb.txt"),
                   ("zero-width-joiner", "a\u200db.txt"), ("soft-hyphen", "a\u00adb.txt"),
                   ("bom", "\ufeffa.txt"), ("word-joiner", "a\u2060b.txt")]:
    add(f"upload-part-filename-format-{name}", upload(form(filename=text)))
    add(f"upload-filename-field-format-{name}", upload(form(("filename", text))))
    add(f"upload-path-format-{name}", upload(form(("path", "/docs/" + text))))
JSON_CT = "application/json"
add("upload-url-lone-surrogate", Case("POST", "/files/upload-url", 400, json.dumps(
    {"filename": "a.txt", "size_bytes": 3, "mime_type": "text/plain"})[:-1].encode()
    + b', "description": "\\ud800"}', JSON_CT))
add("memory-lone-surrogate", Case("POST", "/memory", 400, b'{"content": "a\\udc00b"}',
                                  JSON_CT))
add("media-lone-surrogate", Case("POST", "/media", 400, b'{"file": "data:text/plain,\\ud800",'
                                 b' "return_format": "for_external_api",'
                                 b' "graph_exec_id": "e1"}', JSON_CT))
# Edits, restores and batch deletes (issue 12): a bad body, a bad precondition, odd ids.
PATCH_BODIES = {
    "malformed": b'{"description": ',
    "array": b"[]",
    "unknown-field": b'{"colour": "red"}',
    "description-number": b'{"description": 5}',
    "description-too-long": json.dumps({"description": "d" * 5000}).encode(),
    "description-bidi": json.dumps({"description": "a\u202eb"}).encode(),
    "tags-string": b'{"tags": "red"}',
    "tags-number-item": b'{"tags": [1]}',
    "tags-33": json.dumps({"tags": [f"t{n}" for n in range(33)]}).encode(),
    "metadata-string": b'{"metadata": "x"}',
    "metadata-surrogate": b'{"metadata": {"k": "\\ud800"}}',
    "expected-version-string": b'{"expected_version": "1"}',
    "expected-version-zero": b'{"expected_version": 0}',
    "expected-version-float": b'{"expected_version": 1.5}',
    "expected-version-bool": b'{"expected_version": true}',
}
for name, body in PATCH_BODIES.items():
    add(f"patch-{name}", Case("PATCH", f"/files/{PRIOR_ID}", 400, body, JSON_CT,
                              needs_file=True))
for name, value in [("word", "latest"), ("weak-garbage", 'W/"abc"'), ("negative", "-1"),
                    ("huge", "9" * 40), ("etag-short", '"abc-r1"')]:
    add(f"patch-if-match-{name}", Case("PATCH", f"/files/{PRIOR_ID}", 400,
                                       b'{"description": "x"}', JSON_CT,
                                       headers=(("If-Match", value),), needs_file=True))
add("patch-stale-revision", Case("PATCH", f"/files/{PRIOR_ID}", 409, b'{"description": "x"}',
                                 JSON_CT, headers=(("If-Match", "7"),), needs_file=True))
add("patch-stale-version", Case("PATCH", f"/files/{PRIOR_ID}", 409,
                                b'{"description": "x", "expected_version": 3}', JSON_CT,
                                needs_file=True))
add("patch-unknown-file", Case("PATCH", "/files/file_999999", 404, b'{"description": "x"}',
                               JSON_CT))
add("restore-live-file", Case("POST", f"/files/{PRIOR_ID}/restore", 404, needs_file=True))
add("restore-unknown-file", Case("POST", "/files/file_999999/restore", 404))
add("restore-bad-path", Case("POST", f"/files/{PRIOR_ID}/restore", 400,
                             b'{"path": "/a/../b"}', JSON_CT, needs_file=True))
add("restore-unknown-field", Case("POST", f"/files/{PRIOR_ID}/restore", 400,
                                  b'{"colour": 1}', JSON_CT, needs_file=True))
add("version-restore-unknown", Case("POST", f"/files/{PRIOR_ID}/versions/9/restore", 404,
                                    needs_file=True))
add("version-restore-live", Case("POST", f"/files/{PRIOR_ID}/versions/1/restore", 409,
                                 needs_file=True))
add("version-restore-word", Case("POST", f"/files/{PRIOR_ID}/versions/one/restore", 404,
                                 needs_file=True))
for name, body in [("not-array", b'{"ids": "file_000001"}'), ("empty", b'{"ids": []}'),
                   ("numbers", b'{"ids": [1]}'), ("missing", b"{}"),
                   ("too-many", json.dumps({"ids": [f"file_{n:06d}" for n in range(101)]})
                    .encode()),
                   ("duplicate", b'{"ids": ["file_000002", "file_000002"]}'),
                   ("malformed", b'{"ids": [')]:
    add(f"batch-delete-{name}", Case("POST", "/files/batch-delete", 400, body, JSON_CT))
add("batch-delete-get", get("/files/batch-delete", 405))
add("list-deleted-maybe", get("/files?deleted=maybe"))
add("metadata-unknown-param", get(f"/files/{PRIOR_ID}?colour=red", needs_file=True))
for name, value in [("garbage", "bytes=abc"), ("past-end", "bytes=50-60"),
                    ("reversed", "bytes=5-2"), ("negative-suffix", "bytes=--1")]:
    add(f"content-range-{name}", Case("GET", f"/files/{PRIOR_ID}/content", 416,
                                      headers=(("Range", value),), needs_file=True))
# JSON integers and enums are strict (Schemathesis, issue 16 item 12): a version has at most
# 12 digits in JSON as in forms and If-Match (was a 409 or 501), a float is not an integer,
# and an empty overflow is a typo, not the default (was a write with `truncate`).
MEMORY_WRITES = {"overflow-empty": {"content": "x", "overflow": ""},
                 "version-13-digits": {"content": "x", "expected_version": 10**12},
                 "version-float": {"content": "x", "expected_version": 0.0},
                 "version-bool": {"content": "x", "expected_version": False}}
for name, body in MEMORY_WRITES.items():
    add(f"memory-{name}", Case("POST", "/memory", 400, json.dumps(body).encode(), JSON_CT))
UPLOAD_URL = {"filename": "a.txt", "size_bytes": 3, "mime_type": "text/plain"}
for name, extra in [("version-13-digits", {"expected_version": 10**12}),
                    ("size-float", {"size_bytes": 3.0})]:
    add(f"upload-url-{name}", Case("POST", "/files/upload-url", 400,
                                   json.dumps({**UPLOAD_URL, **extra}).encode(), JSON_CT))
# A Latin-1 digit int() refuses ("²" passes str.isdigit) was a 500 on PATCH.
add("patch-if-match-superscript-digit", Case("PATCH", f"/files/{PRIOR_ID}", 400,
                                             b'{"description": "x"}', JSON_CT,
                                             headers=(("If-Match", "\u00b2"),), needs_file=True))
add("patch-expected-version-13-digits", Case("PATCH", f"/files/{PRIOR_ID}", 400,
                                             b'{"expected_version": 1000000000000}', JSON_CT,
                                             needs_file=True))
add("version-restore-expected-13-digits", Case(
    "POST", f"/files/{PRIOR_ID}/versions/1/restore", 400, b'{"expected_version": 1000000000000}',
    JSON_CT, needs_file=True))
add("search-query-not-utf8", get("/files/search?query=%ED%A0%80"))
add("logs-agent-not-utf8", get("/logs?agent_id=%FF"))
add("list-tag-not-utf8", get("/files?tags=%C3%28"))
# Literal routes under /files/ answer 405 for other methods, never "file not found".
add("put-files-count", Case("PUT", "/files/count", 405, body=b"x"))
add("delete-files-search", Case("DELETE", "/files/search", 405))
add("get-files-upload-url", get("/files/upload-url", 405))
add("delete-files-upload-url", Case("DELETE", "/files/upload-url", 405))

# Moves and folders: PATCH's path and filename, GET /folders and POST /folders/move follow
# the upload's path rules; a folder must end in '/'.
def patch_json(body: object, status: int = 400, headers: tuple = ()) -> Case:
    return Case("PATCH", f"/files/{PRIOR_ID}", status, json.dumps(body).encode(), JSON_CT,
                headers, needs_file=True)


def move_json(body: object, status: int = 400) -> Case:
    return Case("POST", "/folders/move", status, json.dumps(body).encode(), JSON_CT,
                needs_file=True)


for name, value in BAD_PATHS.items():
    folder = value if value.endswith("/") else value + "/"
    add(f"patch-path-{name}", patch_json({"path": value}))
    add(f"folders-path-{name}", get("/folders?" + urlencode({"path": folder})))
    add(f"folder-move-from-{name}", move_json({"from": folder, "to": "/ok/"}))
    add(f"folder-move-to-{name}", move_json({"from": "/ok/", "to": folder}))
for name, value in BAD_FILENAMES.items():
    add(f"patch-filename-{name}", patch_json({"filename": value}))
add("patch-path-not-a-string", patch_json({"path": 5}))
add("patch-move-and-edit", patch_json({"filename": "a.txt", "description": "d"}))
add("patch-expected-version-negative", patch_json({"filename": "a.txt", "expected_version": -1}))
add("patch-move-expected-version-string",
    patch_json({"filename": "a.txt", "expected_version": "1"}))
add("patch-if-match-garbage", patch_json({"filename": "a.txt"}, headers=(("If-Match", "abc"),)))
add("patch-move-unknown-field", patch_json({"filename": "a.txt", "surprise": 1}))
add("patch-json-array", Case("PATCH", f"/files/{PRIOR_ID}", 400, b"[]", JSON_CT, needs_file=True))
add("patch-filename-not-last-segment", patch_json({"path": "/a/b.txt", "filename": "c.txt"}))
add("patch-move-unknown-file", Case("PATCH", "/files/file_999999", 404,
                                    b'{"filename": "a.txt"}', JSON_CT))
add("folders-path-no-trailing-slash", get("/folders?path=/docs"))
add("folders-path-relative-folder", get("/folders?path=docs/"))
add("folders-path-repeated", get("/folders?path=/a/&path=/b/"))
add("folders-unknown-parameter", get("/folders?tags=x"))
add("folders-limit-zero", get("/folders?limit=0"))
add("folders-limit-201", get("/folders?limit=201"))
for name, cursor in {**BAD_CURSORS, "from-files": FILES_CURSOR,
                     "slash-in-name": b64({"k": "folders", "v": ["a/b", "f"]}),
                     "empty-name": b64({"k": "folders", "v": ["", "d"]}),
                     "unknown-kind": b64({"k": "folders", "v": ["a", "x"]}),
                     "too-long": "A" * 2100}.items():
    add(f"folders-cursor-{name}", get(f"/folders?cursor={cursor}"))
add("folder-move-from-no-trailing-slash", move_json({"from": "/docs", "to": "/b/"}))
add("folder-move-to-no-trailing-slash", move_json({"from": "/docs/", "to": "/b"}))
add("folder-move-missing-to", move_json({"from": "/docs/"}))
add("folder-move-from-number", move_json({"from": 1, "to": "/b/"}))
add("folder-move-unknown-field", move_json({"from": "/a/", "to": "/b/", "overwrite": True}))
add("folder-move-into-itself", move_json({"from": "/", "to": "/b/"}, 409))
add("folder-move-not-json", Case("POST", "/folders/move", 415, b"from=/a/", "text/plain"))
add("folder-move-get", get("/folders/move", 405))
add("folder-move-status-unknown", get("/folders/moves/fmv_00000000000000000000", 404))
add("folder-move-status-traversal", get("/folders/moves/..%2f..%2fx", 404))
add("folder-move-status-query", get("/folders/moves/fmv_00000000000000000000?x=1"))

# The signed-link route with missing or garbage parameters (no bearer token is needed, but
# none of these carry a valid signature).
for name, query in [("no-params", ""), ("only-sig", "?sig=abc"),
                    ("garbage", "?ws=x&v=y&expires=z&sig=w"),
                    ("non-numeric-version", "?ws=ws_x&v=one&expires=9999999999&sig=00"),
                    ("huge-expiry", "?ws=ws_x&v=1&expires=" + "9" * 400 + "&sig=00"),
                    ("blank", "?ws=&v=&expires=&sig=")]:
    add(f"signed-{name}", get(f"/files/{PRIOR_ID}/signed{query}", 404, needs_file=True))
# A bad flag is reported before the signature is looked at (400, not 404): reasonable either way.
add("signed-inline-maybe",
    get(f"/files/{PRIOR_ID}/signed?ws=x&v=1&expires=1&sig=0&inline=maybe", 400, needs_file=True))
add("signed-unknown-file", get("/files/file_999999/signed?ws=x&v=1&expires=1&sig=0", 404))


# -- the test ----------------------------------------------------------------------------------
def _state(api, storage: Path) -> tuple[dict[str, int], list[str], int]:
    listed = api.get("/files?include_all_sessions=true&limit=1000")
    assert listed.status_code == 200
    logs = api.get("/logs?limit=1000")
    assert logs.status_code == 200
    return storage_snapshot(storage), [f["id"] for f in listed.json], len(logs.json)


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_a_json_4xx_and_stores_nothing(api, env, case: Case):
    storage = Path(env["WORKSPACE_STORAGE_DIR"])
    if case.needs_file:
        prior = api.upload(b"prior bytes\n", "prior.txt")
        assert prior.status_code == 201 and prior.json["id"] == PRIOR_ID
    before = _state(api, storage)
    if not case.needs_file:
        assert before[0] == {} and before[1] == []

    headers = {**api.headers(), **dict(case.headers)}
    kwargs: dict = {"headers": headers}
    if case.body is not None:
        kwargs["data"] = case.body
    if case.content_type is not None:
        kwargs["content_type"] = case.content_type
    response = api.client.open(API + case.url, method=case.method, **kwargs)

    assert response.status_code == case.status, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"].strip(), body

    after = _state(api, storage)
    assert after == before, "a rejected request changed what is stored or logged"
    if not case.needs_file:
        assert after[0] == {}, "a rejected request left a blob or staging file behind"


def test_table_covers_every_endpoint_family():
    """A guard that the table is not accidentally emptied by a refactor."""
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for family in ("upload-path-", "upload-part-filename-", "upload-filename-field-",
                   "list-cursor-", "count-", "search-", "logs-", "metadata-", "content-",
                   "delete-", "unknown-route-", "signed-", "patch-", "folders-",
                   "folder-move-"):
        assert any(i.startswith(family) for i in ids), family


def test_filter_values_are_percent_encoded_in_the_next_link(api):
    """Tags may hold ``&``, ``#``, spaces and CJK; the ``Link`` header must still be a valid,
    ASCII-only URL that leads to the next page of the same query."""
    tags = ["分镜 & co", "a#b=c"]
    for n in range(3):
        assert api.upload(b"%d" % n, f"f{n}.txt", tags=tags).status_code == 201
    first = api.get("/files?" + urlencode([("tags", t) for t in tags] + [("limit", "2")]))
    assert first.status_code == 200 and len(first.json) == 2
    link = first.headers["Link"]
    assert link.isascii(), link
    assert link.endswith('>; rel="next"')
    url = link[1:link.index(">")]
    assert url.startswith(API + "/files?")
    second = api.client.get(url, headers=api.headers())
    assert second.status_code == 200, second.json
    assert [f["id"] for f in first.json + second.json] == [
        "file_000001", "file_000002", "file_000003"]
    assert "Link" not in second.headers
