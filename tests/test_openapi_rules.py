"""``openapi.yaml``'s input schemas say exactly what the server accepts (issue 16, item 12).

Schemathesis generates requests from these schemas (``tests/test_schemathesis.py``), so a
schema looser than the server shows up as "valid request rejected" and a stricter one as
"invalid request accepted". Here each rule is held against the code directly: bounds against
the constants, character classes against the server's predicates for every code point,
whole schemas against the server's checks on a table of names, the empty values the server
treats as absent against ``allowEmptyValue``, and the ``links`` against the operations they
name.
"""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shared import cursor
from shared import validation as v
from shared.apikeys.service import MAX_NAME_CHARS
from shared.config import Settings
from shared.errors import BadRequest
from shared.files.drafts import FORM_FIELDS
from shared.files.edits import parse_if_match
from shared.media import execdir, sources
from shared.memory.service import parse_version as memory_version
from shared.uploads.issue import _MIME_RE, UPLOAD_URL_FIELDS
from tests.test_openapi import (
    API_PREFIX,
    FILES,
    doc,
    live,
    load_doc,
    operation,
    param,
    parameters,
    schema,
)

SHARED_FIXTURES = (doc, live)  # pytest finds these fixtures by their names here

ALL_CHARS = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


@cache
def validator(node_json: str) -> Draft202012Validator:
    import json

    root = {**json.loads(node_json), "components": load_doc()["components"]}
    return Draft202012Validator(root)


def valid(node: dict[str, Any], value: Any) -> bool:
    import json

    return validator(json.dumps(node, sort_keys=True)).is_valid(value)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def refused_by_class(pattern_class: str) -> set[str]:
    """Every code point a regex character class (``[...]``) matches, in one pass."""
    return set(re.findall(pattern_class, ALL_CHARS))


def negated_class(pattern: str) -> str:
    """The pattern's first ``[^X]`` (X without ``]``), as the class ``[X]``."""
    match = re.search(r"\[\^((?:\\.|[^\]])*)\]", pattern)
    assert match, pattern
    return f"[{match.group(1)}]"


def test_no_key_is_written_twice():
    """YAML keeps the last of two equal keys without a word (a status listed twice, an error
    field described twice), so a merge can silently drop half a definition."""
    import yaml

    from tests.test_openapi import DOC_PATH

    repeated: list[str] = []

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader: Strict, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(key) for key, _ in node.value]
        repeated.extend(f"{k!r} (line {node.start_mark.line + 1})" for k in set(keys)
                        if keys.count(k) > 1)
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load(DOC_PATH.read_text(encoding="utf-8"), Strict)  # Strict is a SafeLoader
    assert repeated == []


# -- bounds and patterns mirror the code's constants ----------------------------------------
def test_ids_and_tokens_are_the_codes_patterns():
    assert schema(load_doc(), "ActorId")["pattern"] == f"^{v._ID_RE.pattern}$"
    assert schema(load_doc(), "OptionalActorId")["pattern"] == f"^(?:{v._ID_RE.pattern})?$"
    assert schema(load_doc(), "SessionId")["pattern"] == f"^{v._SESSION_RE.pattern}$"
    assert schema(load_doc(), "OptionalSessionId")["pattern"] == \
        f"^(?:{v._SESSION_RE.pattern})?$"
    assert schema(load_doc(), "MimeType")["pattern"] == f"^{_MIME_RE.pattern}$"
    file_id = param(load_doc(), "GET", f"{FILES}/{{file_id}}", "file_id")["schema"]
    assert file_id["pattern"] == f"^{v._FILE_ID_RE.pattern}$"


def test_lengths_and_counts_are_the_codes_limits():
    doc, settings = load_doc(), Settings()
    assert schema(doc, "Filename")["maxLength"] == v.MAX_SEGMENT_BYTES
    assert schema(doc, "VirtualPath")["maxLength"] == v.MAX_PATH_CHARS
    assert schema(doc, "Folder")["maxLength"] == v.MAX_PATH_CHARS + 1  # plus its slash
    assert schema(doc, "Description")["maxLength"] == v.MAX_DESCRIPTION_CHARS
    assert f"{{0,{v.MAX_TAG_CHARS - 2}}}" in schema(doc, "Tag")["pattern"]
    assert schema(doc, "SearchText")["maxLength"] == v.MAX_QUERY_CHARS
    assert schema(doc, "Cursor")["maxLength"] == cursor.MAX_CURSOR_CHARS
    assert schema(doc, "Version")["maximum"] == v.MAX_VERSION
    assert param(doc, "GET", f"{FILES}", "tags")["schema"]["maxItems"] == v.MAX_TAGS
    form = schema(doc, "UploadForm")["properties"]
    assert form["tags"]["maxItems"] == v.MAX_TAGS
    request = schema(doc, "UploadUrlRequest")["properties"]
    assert request["tags"]["anyOf"][0]["maxItems"] == v.MAX_TAGS
    assert request["size_bytes"]["maximum"] == settings.max_file_size_bytes


def test_upload_url_body_is_the_codes_field_list():
    body = schema(load_doc(), "UploadUrlRequest")
    assert set(body["properties"]) == UPLOAD_URL_FIELDS
    assert set(body["required"]) == {"filename", "size_bytes", "mime_type"}
    assert body["additionalProperties"] is False
    assert set(schema(load_doc(), "UploadForm")["properties"]) == set(FORM_FIELDS) | {"file"}


def test_versions_are_bounded_everywhere():
    doc = load_doc()
    version = ref("Version")
    assert param(doc, "GET", f"{API_PREFIX}/memory/versions/{{version}}", "version")[
        "schema"] == version
    assert param(doc, "GET", f"{FILES}/{{file_id}}/content", "version")["schema"] == version
    assert schema(doc, "UploadForm")["properties"]["expected_version"]["$ref"] == version["$ref"]
    for name in ("MemoryWrite", "UploadUrlRequest"):
        assert schema(doc, name)["properties"]["expected_version"]["anyOf"][0] == version
    assert schema(doc, "LiveVersion")["maximum"] == v.MAX_VERSION
    for name in ("FileEdit", "VersionRestoreRequest"):
        assert schema(doc, name)["properties"]["expected_version"]["anyOf"][0] == \
            ref("LiveVersion")
    with pytest.raises(BadRequest):
        v.parse_version(str(v.MAX_VERSION + 1), "version")
    assert memory_version(str(v.MAX_VERSION), "version") == v.MAX_VERSION


# -- character classes, checked for every code point ---------------------------------------
def test_name_characters_are_the_servers():
    pattern = schema(load_doc(), "Filename")["pattern"]
    server = {c for c in ALL_CHARS if v._has_control(c) or v._has_format_char(c) or c in "/\\"}
    assert refused_by_class(negated_class(pattern)) == server
    for name in ("VirtualPath", "Folder"):
        assert negated_class(schema(load_doc(), name)["pattern"]) == negated_class(pattern)


def test_label_characters_are_the_servers():
    label = schema(load_doc(), "Label")["pattern"]
    assert f"{{0,{MAX_NAME_CHARS - 2}}}" in label
    trimmed, first = re.match(r"\^(\[[^\]]*\])\*(\[\^[^\]]*\])", label).groups()
    assert refused_by_class(trimmed) == {c for c in ALL_CHARS if c.isspace()}
    server = {c for c in ALL_CHARS
              if v._has_control(c) or v._has_format_char(c) or c.isspace()}
    assert refused_by_class("[" + first[2:]) == server


def test_description_tag_and_query_characters_are_the_servers():
    doc = load_doc()
    control = {c for c in ALL_CHARS if v._has_control(c)}
    bidi = set(v._BIDI)
    description = negated_class(schema(doc, "Description")["pattern"])
    assert refused_by_class(description) == (control - set("\n\t\r")) | bidi
    query = negated_class(schema(doc, "SearchText")["pattern"])
    assert refused_by_class(query) == control
    space = {c for c in ALL_CHARS if c.isspace() and c not in control}
    edge = schema(doc, "UnsafeName")["anyOf"][0]["pattern"]
    assert refused_by_class(re.match(r"\(\?:\^\|/\)(\[[^\]]*\])", edge).group(1)) == space
    tag = schema(doc, "Tag")["pattern"]
    trimmed, first = re.match(r"\^(\[[^\]]*\])\*(\[\^[^\]]*\])", tag).groups()
    assert refused_by_class(trimmed) == {c for c in ALL_CHARS if c.isspace()}
    assert refused_by_class("[" + first[2:]) == control | bidi | space


# -- whole schemas against the server's checks -------------------------------------------------
def server_accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except BadRequest:
        return False
    return True


NAMES = ["a.txt", "a", "é.png", "分镜.png", "a b.txt", ".env", "a..b", "...", ".", "..", ". .",
         " a", "a ", "a\u3000", "\u00a0a", "a\tb", "a\x85b", "a\x00b", "a/b", "a\\b", "a%2eb",
         "a%zz", "100%", "con", "CON.txt", "Nul", "com1.x", "lpt9", "com10", "conx", "x" * 255,
         "x" * 256, "a\u200bb", "a\u200db", "a\u00adb", "\ufeffa", "a\U000E0041b", "a\u202eb",
         "a\u2028b", "file_000001", ""]
PATHS = ["/a.txt", "/a/b/c.md", "/", "//", "/a//b", "/a/", "a.txt", "/a/../b", "/a/./b",
         "/a/ b", "/a /b", "/con/x", "/x/CON.txt", "/a%2fb", "/a\\b", "/a\x7fb", "/a\u200bb",
         "/a/\u202e", "/" + "a/" * 511 + "b", "/" + "a" * 1023, "/" + "a" * 1024,
         "/" + "a" * 1023 + "/"]
TAGS = ["a", " a ", "\ta\n", "a b", "x" * 64, " " + "x" * 64 + " ", "x" * 65, "", "  ",
        "a\x00", "a\u202eb", "a\u200db", "\x1ca\x85", "a\x85b", "\u3000a\u3000"]
TEXTS = ["fog", " fog ", "  ", "", "a\tb", "a\nb", "a\u200eb", "a\u202ab", "a\x85b", "x" * 4000,
         "x" * 4001, "分镜 & co"]


@pytest.mark.parametrize("value", NAMES)
def test_filename_schema_is_the_servers_check(value):
    assert valid(ref("Filename"), value) == server_accepts(v.check_filename, value), value


@pytest.mark.parametrize("value", PATHS + NAMES)
def test_path_schemas_are_the_servers_checks(value):
    folder = value.endswith("/")
    upload = {"anyOf": [ref("VirtualPath"), ref("Folder")]}
    check = v.check_path_prefix if folder else v.check_virtual_path
    assert valid(upload, value) == server_accepts(check, value), value
    listing = param(load_doc(), "GET", FILES, "path")["schema"]
    assert valid(listing, value) == server_accepts(v.check_path_prefix, value), value


@pytest.mark.parametrize("value", TAGS)
def test_tag_schema_is_the_servers_check(value):
    assert valid(ref("Tag"), value) == server_accepts(lambda t: v.check_tags([t]), value)


@pytest.mark.parametrize("value", TEXTS)
def test_description_and_query_schemas_are_the_servers_checks(value):
    assert valid(ref("Description"), value) == server_accepts(v.check_description, value)
    query = value[:300]
    assert valid(ref("SearchText"), query) == server_accepts(v.check_query, query), query


@pytest.mark.parametrize("value", [" a ", "\ta\u00a0", "key", "x" * 100, " " + "x" * 100 + " ",
                                   "x" * 101, "", "   ", "a\x00", "a\u200bb", "a\u202eb",
                                   "\U000E0001a", "分镜"])
def test_label_schema_is_the_servers_check(value):
    assert valid(ref("Label"), value) == server_accepts(
        lambda x: v.check_label(x, "name", MAX_NAME_CHARS), value)


@pytest.mark.parametrize("value", ["3", "", "  ", "*", " 7 ", "\u00b2", "1" * 12, "1" * 13,
                                   '"' + "a" * 64 + '-r3"', 'W/"' + "a" * 64 + '-r3"',
                                   '"' + "A" * 64 + '-r3"', '"abc-r1"', "W/3", "-1", "latest"])
def test_revision_if_match_schema_is_the_servers_check(value):
    spec = param(load_doc(), "PATCH", f"{FILES}/{{file_id}}", "If-Match")["schema"]
    assert valid(spec, value) == server_accepts(parse_if_match, value), value


@pytest.mark.parametrize("value", ["3", '"3"', 'W/"3"', "W/3", '""3""', " 3 ", "\xa03", "",
                                   "  ", "W/", '""', "x", "3.0", "-1", "1" * 12, "1" * 13])
def test_if_match_schema_is_the_servers_check(value):
    spec = param(load_doc(), "POST", f"{API_PREFIX}/memory", "If-Match")["schema"]
    assert valid(spec, value) == server_accepts(lambda x: memory_version(x, "If-Match"), value)


@pytest.mark.parametrize("value", ["a.png", "dir/a.png", "é/分镜.txt", "/a", "a//b", "a/./b",
                                   "../a", "a\\b", "a\x01", "a\x7f", "a\x85", "x:y", "C:/x",
                                   "1:x", "data:,x", "HTTP://h", "workspace://file_000001",
                                   "gcs://b/o", "ftp://x", "mailto:x", ""])
def test_media_local_paths_are_the_servers(value):
    def server(text: str) -> None:
        if sources.kind_of(text) == "local":
            execdir.check_relative(text)

    body = schema(load_doc(), "MediaRequest")["properties"]["file"]
    assert valid(body, value) == server_accepts(server, value), value


@pytest.mark.parametrize("value,documented,status", [
    ("bytes=0-3", True, 206), ("Bytes = 2-", True, 206), ("bytes=-3", True, 206),
    ("bytes=0-1,4-5", True, 200), ("items=0-3", True, 200), ("", True, 200),
    ("xyz", True, 200), ("bytes=20-", True, 416), ("bytes=5-2", True, 416),  # by the length
    ("bytes=abc", False, 416), ("bytes=-0", False, 416), ("bytes=1", False, 416)])
def test_range_schema_is_what_the_server_serves(live, value, documented, status):
    created = live.client.post(FILES, data={"file": (io.BytesIO(b"0123456789"), "r.bin")},
                               headers=live_headers(), content_type="multipart/form-data")
    url = f"{FILES}/{created.get_json()['id']}/content"
    spec = param(load_doc(), "GET", f"{FILES}/{{file_id}}/content", "Range")["schema"]
    assert valid(spec, value) == documented
    assert live.client.get(url, headers=live_headers(Range=value)).status_code == status


# -- empty values and nulls ------------------------------------------------------------------
QUERY_ROUTES = [FILES, f"{FILES}/count", f"{FILES}/search", f"{API_PREFIX}/logs",
                f"{API_PREFIX}/search", f"{FILES}/{{file_id}}/content"]


@pytest.mark.parametrize("path", QUERY_ROUTES)
def test_allow_empty_value_marks_exactly_what_the_server_ignores(path, live):
    created = live.client.post(FILES, data={"file": (io.BytesIO(b"x"), "e.txt")},
                               headers=live_headers(), content_type="multipart/form-data")
    assert created.status_code == 201
    url = path.replace("{file_id}", created.get_json()["id"])
    for spec in parameters(load_doc(), "GET", path):
        if spec["in"] != "query":
            continue
        extra = "" if spec["name"] == "query" or "search" not in path else "&query=x"
        response = live.client.get(f"{url}?{spec['name']}={extra}", headers=live_headers())
        assert (response.status_code < 400) == spec.get("allowEmptyValue", False), (
            path, spec["name"], response.status_code, response.get_json())


def live_headers(**extra: str) -> dict[str, str]:
    from shared.auth import mint_dev_token
    from tests.test_openapi import SECRET

    return {"Authorization": f"Bearer {mint_dev_token(SECRET, 'rules')}", **extra}


def test_empty_attribution_headers_are_absent(live):
    for name in ("X-Agent-Id", "X-Task-Id", "X-Session-Id", "If-Match"):
        spec = param(load_doc(), "GET" if name != "If-Match" else "POST",
                     f"{API_PREFIX}/memory", name)["schema"]
        assert valid(spec, ""), name
    response = live.client.get(f"{API_PREFIX}/memory", headers=live_headers(
        **{"X-Agent-Id": "", "X-Task-Id": "", "X-Session-Id": ""}))
    assert response.status_code == 200


def test_nullable_json_fields_are_the_ones_the_server_skips():
    request = schema(load_doc(), "UploadUrlRequest")["properties"]
    required = set(schema(load_doc(), "UploadUrlRequest")["required"])
    for name, spec in request.items():
        assert valid(spec, None) == (name not in required), name
    for name in ("FileEdit", "RestoreRequest", "VersionRestoreRequest"):
        assert all(valid(spec, None) for spec in schema(load_doc(), name)["properties"].values())
    key = schema(load_doc(), "ApiKeyRequest")["properties"]
    assert [n for n, spec in key.items() if valid(spec, None)] == ["expires_in_days", "agent_id"]
    memory = schema(load_doc(), "MemoryWrite")["properties"]
    assert not valid(memory["content"], None)
    assert all(valid(memory[name], None) for name in ("append", "overflow", "expected_version"))
    assert not valid(memory["overflow"], "")


# -- links -------------------------------------------------------------------------------------
def test_links_name_real_operations_and_parameters():
    doc = load_doc()
    ops = {op["operationId"]: (method, path) for path, item in doc["paths"].items()
           for method, op in item.items() if isinstance(op, dict) and "operationId" in op}
    flows = set()
    for source, (method, path) in ops.items():
        for response in operation(doc, method, path)["responses"].values():
            for link in response.get("links", {}).values():
                target = link["operationId"]
                assert target in ops, (source, target)
                names = {p["name"] for p in parameters(doc, *ops[target])}
                for name in link.get("parameters", {}):
                    assert name.split(".")[-1] in names, (source, target, name)
                flows.add((source, target))
    assert {("uploadFile", "getFile"), ("getFile", "getFileContent"),
            ("getFile", "deleteFile"), ("uploadFile", "deleteFile"),
            ("writeMemory", "listMemoryVersions"), ("writeMemory", "getMemoryVersion"),
            ("writeMemory", "revertMemory"), ("getMemoryVersion", "revertMemory")} <= flows


def test_unicode_tables_are_the_ones_the_document_was_written_for():
    """The Cf class in the patterns is Unicode 14's (Python 3.11); a newer Unicode adds format
    characters, and the document must be regenerated with them."""
    assert unicodedata.unidata_version == "14.0.0"
