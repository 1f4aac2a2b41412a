"""``openapi.yaml`` is valid OpenAPI 3.1 and agrees with the code it describes.

Each test compares the document with what the code declares: the functions' routers, the
route table, the accepted query parameters, form fields and body fields, and the JSON shapes
built by ``to_api``. A final scenario drives every documented operation through the real
WSGI app and validates each answer against the documented schema, strictly (no undocumented
keys). Any drift on either side fails here.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client
from werkzeug.wrappers import Response

import main
from shared import errors, factory, models, queries
from shared.auth import mint_dev_token
from shared.config import Settings
from shared.context import RequestContext
from shared.errors import Infected
from shared.files.drafts import FORM_FIELDS
from shared.health import health_report
from shared.memory.service import WRITE_FIELDS
from shared.models import FileRecord, LogEntry
from shared.routes import API_PREFIX, ROUTES, function_for

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
IGNORED_METHODS = {"OPTIONS", "HEAD"}
PUBLIC_PATHS = {"/healthz", f"{API_PREFIX}/files/{{file_id}}/signed",
                f"{API_PREFIX}/auth/dev-token"}
ATTRIBUTION_HEADERS = {"X-Agent-Id", "X-Task-Id", "X-Session-Id"}
SAMPLE_ARGS = {"file_id": "file_000001", "version": "1"}
FILES = f"{API_PREFIX}/files"
SECRET = "openapi-test-secret-0123456789-abcdefgh"


@cache
def load_doc() -> dict[str, Any]:
    return yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def doc() -> dict[str, Any]:
    return load_doc()


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a concrete node remains."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local refs are expected, got {ref}"
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return doc["paths"][path][method.lower()]


def parameters(doc: dict[str, Any], method: str, path: str) -> list[dict[str, Any]]:
    """Path-level and operation-level parameters, refs resolved."""
    item = doc["paths"][path]
    raw = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    return [resolve(doc, p) for p in raw]


def query_names(doc: dict[str, Any], method: str, path: str) -> set[str]:
    return {p["name"] for p in parameters(doc, method, path) if p["in"] == "query"}


def param(doc: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    return next(p for p in parameters(doc, method, path) if p["name"] == name)


def schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return resolve(doc, doc["components"]["schemas"][name])


# -- the functions' own routes ---------------------------------------------------------------
def function_modules() -> dict[str, ModuleType]:
    """Entry point name -> module, for every HTTP function in the route table."""
    names = {route.function for route in ROUTES}
    missing = names - set(main.__all__)
    assert not missing, f"route table names functions main.py does not export: {missing}"
    return {name: importlib.import_module(getattr(main, name).__module__) for name in names}


def openapi_path(rule: str) -> str:
    """werkzeug's ``<file_id>`` / ``<int:n>`` as OpenAPI's ``{file_id}`` / ``{n}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def code_operations() -> dict[tuple[str, str], tuple[str, bool]]:
    """(METHOD, path) -> (function, public) for every route the functions declare."""
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    for name, module in function_modules().items():
        for rule in module.router._map.iter_rules():
            for method in sorted(set(rule.methods or ()) - IGNORED_METHODS):
                key = (method, openapi_path(rule.rule))
                assert key not in out, f"{key} is declared twice"
                out[key] = (name, rule.endpoint.public)
    return out


def doc_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in HTTP_METHODS and method.upper() not in IGNORED_METHODS
    }


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLE_ARGS.get(m.group(1), "x"), path)


# -- (a) validity ----------------------------------------------------------------------------
def test_document_is_valid_openapi_3_1(doc):
    assert str(doc["openapi"]).startswith("3.1."), doc["openapi"]
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_validator_rejects_a_broken_document(doc):
    broken = copy.deepcopy(doc)
    broken["paths"]["/healthz"]["get"]["responses"] = "not a mapping"
    with pytest.raises(Exception):  # noqa: B017 - any validation error will do
        validate(broken, cls=OpenAPIV31SpecValidator)


# -- (b) route drift -------------------------------------------------------------------------
def test_every_declared_route_is_documented_and_nothing_else(doc):
    in_code = set(code_operations())
    in_doc = doc_operations(doc)
    assert in_code, "no routes found on the routers"
    assert in_code == in_doc, (
        f"undocumented routes: {sorted(in_code - in_doc)}; "
        f"documented but not served: {sorted(in_doc - in_code)}"
    )


def test_healthz_is_documented(doc):
    assert ("GET", "/healthz") in doc_operations(doc)


def test_public_routes_match_the_routers_and_need_no_token(doc):
    assert doc["security"] == [{"bearerAuth": []}]
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "JWT" in scheme["bearerFormat"] and "wsk_" in scheme["bearerFormat"]
    public_in_code = {path for (_m, path), (_f, public) in code_operations().items() if public}
    assert public_in_code == PUBLIC_PATHS
    for method, path in doc_operations(doc):
        op = operation(doc, method, path)
        public = op.get("security") == []
        assert public == (path in PUBLIC_PATHS), f"{method} {path}: security {op.get('security')}"
        statuses = set(op["responses"])
        if public:
            assert "401" not in statuses, f"{method} {path} is public but documents 401"
        else:
            assert "401" in statuses, f"{method} {path} needs a token but documents no 401"


def test_authenticated_operations_document_the_attribution_headers(doc):
    for method, path in doc_operations(doc):
        headers = {p["name"] for p in parameters(doc, method, path) if p["in"] == "header"}
        if path in PUBLIC_PATHS:
            assert not headers & ATTRIBUTION_HEADERS, f"{method} {path}"
        else:
            assert headers >= ATTRIBUTION_HEADERS, f"{method} {path}"


def test_path_parameters_match_the_templates(doc):
    for method, path in doc_operations(doc):
        templated = set(re.findall(r"\{([^}]+)\}", path))
        declared = {p["name"] for p in parameters(doc, method, path) if p["in"] == "path"}
        assert templated == declared, f"{method} {path}"


# -- (c) the route table agrees with the functions --------------------------------------------
def test_each_documented_path_is_served_by_the_function_the_route_table_names(doc):
    modules = function_modules()
    owners = code_operations()
    for method, path in sorted(doc_operations(doc)):
        name = function_for(path)
        assert name is not None, f"no function serves {path}"
        assert owners.get((method, path), (None,))[0] == name, (
            f"{method} {path}: route table says {name}, declared by {owners.get((method, path))}"
        )
        adapter = modules[name].router._map.bind("workspace")
        adapter.match(concrete(path), method=method)  # raises if that function can't serve it


# -- (d) query parameters, form fields, body fields --------------------------------------------
def test_file_list_query_parameters_match_the_code(doc):
    assert query_names(doc, "GET", FILES) == queries.FILE_LIST_ARGS
    assert query_names(doc, "GET", f"{FILES}/count") == queries.FILE_LIST_ARGS


def test_folder_parameters_bodies_and_shapes_match_the_code(doc):
    from functions.files import FOLDER_MOVE_FIELDS
    from shared.files.edits import EDIT_FIELDS, PATH_FIELDS
    from shared.folderpaths import MOVE_STATUSES, FolderMove, FolderSummary

    folders = f"{API_PREFIX}/folders"
    assert query_names(doc, "GET", folders) == queries.FOLDER_ARGS
    limit = param(doc, "GET", folders, "limit")["schema"]
    assert limit["maximum"] == queries.FOLDER_MAX_LIMIT
    assert limit["default"] == min(Settings().list_default_limit, queries.FOLDER_MAX_LIMIT)
    patch = operation(doc, "PATCH", f"{FILES}/{{file_id}}")["requestBody"]["content"]
    patch_fields = set(resolve(doc, patch["application/json"]["schema"])["properties"])
    assert patch_fields == EDIT_FIELDS | PATH_FIELDS
    move = operation(doc, "POST", f"{folders}/move")["requestBody"]["content"]
    request = resolve(doc, move["application/json"]["schema"])
    assert set(request["properties"]) == set(request["required"]) == FOLDER_MOVE_FIELDS
    sample = FolderMove("fmv_" + "0" * 20, "ws", "/a/", "/b/", "done", "t", "t")
    assert_shape(doc, "FolderMove", set(sample.to_api()))
    assert tuple(schema(doc, "FolderMove")["properties"]["status"]["enum"]) == MOVE_STATUSES
    assert_shape(doc, "FolderSummary", set(FolderSummary("/a/", 1, 2).to_api()))


def test_log_query_parameters_match_the_code(doc):
    assert query_names(doc, "GET", f"{API_PREFIX}/logs") == queries.LOG_ARGS


def test_search_query_parameters_match_the_code(doc):
    assert query_names(doc, "GET", f"{FILES}/search") == queries.SEARCH_ARGS
    assert query_names(doc, "GET", f"{API_PREFIX}/search") == queries.COMBINED_SEARCH_ARGS


def test_documented_file_list_parameters_are_accepted(doc):
    samples = {"file_type": "image", "tags": "a", "created_by": "agent",
               "path": "/sessions/s1/x/", "session_id": "s1", "include_all_sessions": "true",
               "limit": "5", "cursor": "", "deleted": "true"}
    names = query_names(doc, "GET", FILES)
    args = MultiDict({name: samples[name] for name in names})
    queries.file_query(args, RequestContext("u"), Settings())


def test_documented_log_parameters_are_accepted(doc):
    samples = {"operation_type": "create", "resource_type": "file", "resource_id": "file_000001",
               "agent_id": "a", "task_id": "t", "since": "2024-01-01T00:00:00Z",
               "until": "2024-01-02T00:00:00Z", "limit": "5", "cursor": "", "format": "json",
               "session_id": "s1", "include_all_sessions": "true", "q": "photo"}
    names = query_names(doc, "GET", f"{API_PREFIX}/logs")
    queries.log_query(MultiDict({name: samples[name] for name in names}), RequestContext("u"),
                      Settings())


def test_limit_bounds_match_the_code(doc):
    settings = Settings()
    for path in (FILES, f"{API_PREFIX}/logs"):
        limit = param(doc, "GET", path, "limit")["schema"]
        assert limit["minimum"] == 1
        assert limit["default"] == settings.list_default_limit
        assert limit["maximum"] == settings.list_max_limit
    for path in (f"{FILES}/search", f"{API_PREFIX}/search"):
        limit = param(doc, "GET", path, "limit")["schema"]
        assert limit["default"] == queries.SEARCH_DEFAULT_LIMIT
        assert limit["maximum"] == settings.list_max_limit
        assert param(doc, "GET", path, "query")["required"] is True


def test_enums_match_the_models(doc):
    params = {p["name"]: p for p in parameters(doc, "GET", f"{API_PREFIX}/logs")}
    assert tuple(params["operation_type"]["schema"]["enum"]) == models.OPERATION_TYPES
    assert tuple(params["resource_type"]["schema"]["enum"]) == models.RESOURCE_TYPES
    assert tuple(params["format"]["schema"]["enum"]) == queries.LOG_FORMATS
    assert tuple(schema(doc, "FileType")["enum"]) == models.FILE_TYPES
    types = param(doc, "GET", f"{API_PREFIX}/search", "types")["schema"]["items"]["enum"]
    from shared.search import TYPES

    assert tuple(types) == TYPES
    from shared.memory.truncation import OVERFLOW_MODES

    overflow = schema(doc, "MemoryWrite")["properties"]["overflow"]["enum"]
    assert tuple(overflow) == (*OVERFLOW_MODES, None)  # null: the default


def test_repeatable_parameters_are_arrays(doc):
    for path, name in ((FILES, "tags"), (f"{FILES}/count", "tags"),
                       (f"{API_PREFIX}/search", "types")):
        spec = param(doc, "GET", path, name)
        assert spec["schema"]["type"] == "array", (path, name)
        assert spec.get("explode", True) is True and spec.get("style", "form") == "form"


def test_upload_form_fields_match_the_code(doc):
    body = operation(doc, "POST", FILES)["requestBody"]["content"]
    form = resolve(doc, body["multipart/form-data"]["schema"])
    assert set(form["properties"]) == set(FORM_FIELDS) | {"file"}
    assert form["required"] == ["file"]
    assert resolve(doc, form["properties"]["tags"])["type"] == "array"


def test_media_body_fields_match_the_code(doc):
    from shared.media.execdir import EXEC_ID_RE
    from shared.media.service import RETURN_FORMATS, STORE_FIELDS

    body = operation(doc, "POST", f"{API_PREFIX}/media")["requestBody"]["content"]
    request = resolve(doc, body["application/json"]["schema"])
    assert set(request["properties"]) == STORE_FIELDS
    assert tuple(request["properties"]["return_format"]["enum"]) == RETURN_FORMATS
    assert request["additionalProperties"] is False
    assert schema(doc, "GraphExecId")["pattern"] == f"^{EXEC_ID_RE.pattern}$"


def test_memory_body_fields_match_the_code(doc):
    body = operation(doc, "POST", f"{API_PREFIX}/memory")["requestBody"]["content"]
    write = resolve(doc, body["application/json"]["schema"])
    assert set(write["properties"]) == WRITE_FIELDS
    assert write["required"] == ["content"]
    assert write["additionalProperties"] is False


# -- (e) response shapes ----------------------------------------------------------------------
def sample_record() -> FileRecord:
    return FileRecord(
        id="file_000001", workspace_id="ws_1", number=1, filename="a.png", path="/a.png",
        session_id=None, description="d", tags=("x",), created_by="agent", metadata={},
        storage_key="k", storage_path="/tmp/k", mime_type="image/png", file_type="image",
        file_extension=".png", size_bytes=1, checksum="0" * 64, status="ready", version=1,
        created_at="2024-01-01T00:00:00.000000Z", updated_at="2024-01-01T00:00:00.000000Z")


def sample_log() -> LogEntry:
    return LogEntry("log_1", "2024-01-01T00:00:00.000000Z", "create", "file", "file_000001",
                    {"filename": "a.png"}, "agent", "task")


def assert_shape(doc: dict[str, Any], name: str, keys: set[str]) -> None:
    node = schema(doc, name)
    assert set(node["properties"]) == keys, (
        f"{name}: missing {sorted(keys - set(node['properties']))}, "
        f"extra {sorted(set(node['properties']) - keys)}"
    )
    assert set(node["required"]) == keys, f"{name}: required differs from the keys"


def test_file_schema_matches_to_api(doc):
    assert_shape(doc, "File", set(sample_record().to_api()))
    props = schema(doc, "File")["properties"]
    assert tuple(resolve(doc, props["file_type"])["enum"]) == models.FILE_TYPES
    assert tuple(props["status"]["enum"]) == models.FILE_STATUSES


def test_search_hit_schema_matches_to_search_hit(doc):
    assert_shape(doc, "FileSearchHit", set(sample_record().to_search_hit()))


def test_log_entry_schema_matches_to_api(doc):
    assert_shape(doc, "LogEntry", set(sample_log().to_api()))
    props = schema(doc, "LogEntry")["properties"]
    assert tuple(props["operation_type"]["enum"]) == models.OPERATION_TYPES
    assert tuple(props["resource_type"]["enum"]) == models.RESOURCE_TYPES


class _Backend:
    """Just enough of a blob store, metadata store and scanner for ``health_report``."""

    name = "stub"
    enabled = True

    def ping(self) -> bool:
        return True

    def describe(self) -> dict[str, str]:
        return {"backend": self.name}


def test_health_schema_matches_the_report(doc):
    report = health_report(_Backend(), _Backend(), _Backend())  # type: ignore[arg-type]
    health = schema(doc, "Health")
    assert set(health["properties"]) == set(report) == set(health["required"])
    backends = health["properties"]["backends"]
    assert set(backends["properties"]) == set(report["backends"])
    for name, node in backends["properties"].items():
        assert set(report["backends"][name]) <= set(node["properties"]), name
    scanner = backends["properties"]["scanner"]
    assert set(scanner["properties"]) == set(report["backends"]["scanner"])
    assert set(health["properties"]["status"]["enum"]) == {"ok", "degraded"}


def test_error_schema_covers_the_error_bodies(doc):
    error = schema(doc, "Error")
    assert error["required"] == ["error"]
    assert set(Infected("Eicar-Test").body()) <= set(error["properties"])
    assert {"signature", "path", "file_id", "max_bytes", "status", "current_version",
            "expected_version", "max_length", "remaining", "length_needed", "missing_scope",
            "retry_after"} <= set(error["properties"])


# -- status codes and special responses -------------------------------------------------------
def documented_statuses(doc: dict[str, Any]) -> set[int]:
    return {
        int(code)
        for method, path in doc_operations(doc)
        for code in operation(doc, method, path)["responses"]
        if code.isdigit()
    }


def test_every_client_error_status_is_documented_somewhere(doc):
    statuses = set(errors._STATUS.values())
    # 405 is answered for methods a path does not declare, so it is described, not listed.
    expected = {s for s in statuses if s < 500 and s != 405} | {503}
    assert expected <= documented_statuses(doc), sorted(expected - documented_statuses(doc))
    assert "405" in doc["info"]["description"]


def test_upload_download_and_log_special_responses(doc):
    upload = operation(doc, "POST", FILES)["responses"]
    assert set(upload) == {"201", "400", "401", "403", "408", "409", "413", "414", "415", "422",
                           "429", "431", "503"}
    content = operation(doc, "GET", f"{FILES}/{{file_id}}/content")
    assert {"200", "302", "404", "409"} <= set(content["responses"])
    link = resolve(doc, content["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(link["properties"]) == {"url", "expires_at"}
    assert "Location" in content["responses"]["302"]["headers"]
    assert query_names(doc, "GET", f"{FILES}/{{file_id}}/content") == queries.CONTENT_ARGS
    logs = operation(doc, "GET", f"{API_PREFIX}/logs")["responses"]["200"]
    assert {"application/json", "application/x-ndjson"} <= set(logs["content"])
    for path in (FILES, f"{API_PREFIX}/logs"):
        headers = operation(doc, "GET", path)["responses"]["200"]["headers"]
        assert {"X-Next-Cursor", "Link"} <= set(headers), path
    health = operation(doc, "GET", "/healthz")["responses"]
    assert set(health) == {"200", "414", "431", "503"}


def test_server_level_errors_are_documented_where_they_apply(doc):
    """The server answers 414 and 431 (JSON) before any route runs, so every operation can
    get them; 408 (a stalled or too slow body) only those that read a body."""
    for method, path in doc_operations(doc):
        op = operation(doc, method, path)
        statuses = set(op["responses"])
        assert {"414", "431"} <= statuses, f"{method} {path}"
        assert ("408" in statuses) == ("requestBody" in op), f"{method} {path}"
        for code in ("408", "414", "431"):
            if code in statuses:
                body = resolve(doc, op["responses"][code])["content"]["application/json"]
                assert resolve(doc, body["schema"]) == doc["components"]["schemas"]["Error"]


# -- every documented operation, live, against its documented schema -----------------------------
def strict(node: Any) -> Any:
    """A copy in which objects with ``properties`` allow no other keys unless they say so."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


class Live:
    """Calls the mounted functions and checks each answer against ``openapi.yaml``."""

    def __init__(self, doc: dict[str, Any], client: Client) -> None:
        self.doc = doc
        self.client = client
        self.components = strict(doc["components"])
        self.seen: set[tuple[str, str]] = set()

    def validate(self, instance: Any, node: dict[str, Any], where: str) -> None:
        root = {**strict(node), "components": self.components}
        validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(instance)]
        assert not problems, f"{where}: {problems}"

    def call(self, method: str, template: str, expect: int, *, query: str = "",
             user: str | None = "alice", headers: dict[str, str] | None = None,
             **path_args: str) -> Response:
        kwargs = {k: v for k, v in path_args.items() if k in {"data", "content_type", "json"}}
        values = {k: v for k, v in path_args.items() if k not in kwargs}
        url = template.format(**values) + (f"?{query}" if query else "")
        sent = dict(headers or {})
        if user:
            sent["Authorization"] = f"Bearer {mint_dev_token(SECRET, user)}"
        response = self.client.open(url, method=method, headers=sent, **kwargs)
        where = f"{method} {url}"
        assert response.status_code == expect, f"{where}: {response.status_code} {response.data!r}"
        self.check(method, template, response, where)
        return response

    def check(self, method: str, template: str, response: Response, where: str) -> None:
        responses = operation(self.doc, method, template)["responses"]
        code = str(response.status_code)
        assert code in responses, f"{where} answered {code}, which is not documented"
        spec = resolve(self.doc, responses[code])
        for name, header in spec.get("headers", {}).items():
            if resolve(self.doc, header).get("required"):
                assert name in response.headers, f"{where}: required header {name} is missing"
        content = spec.get("content")
        if content is None:
            assert response.status_code in (302, 304), f"{where}: no documented body"
        elif response.mimetype == "application/json" and "application/json" in content:
            self.validate(response.get_json(), content["application/json"]["schema"], where)
        else:
            assert response.mimetype in content or "*/*" in content, (
                f"{where}: {response.mimetype} is not a documented content type")
        self.seen.add((method, template))


def exercise_keys(live: Live) -> None:
    """The keys endpoints, and a key's 403, 429 and (once revoked) 401."""
    keys, one = f"{API_PREFIX}/keys", f"{API_PREFIX}/keys/{{key_id}}"
    as_json = {"content_type": "application/json"}
    created = live.call("POST", keys, 201, data=json.dumps(
        {"name": "reader", "scopes": ["files:read"], "agent_id": "bot",
         "expires_in_days": 30}), **as_json).get_json()
    live.call("POST", keys, 400, data=json.dumps({"name": "x", "scopes": ["nope"]}), **as_json)
    live.call("POST", keys, 415, data="name=x", content_type="text/plain")
    assert [k["id"] for k in live.call("GET", keys, 200).get_json()] == [created["id"]]
    key = {"Authorization": f"Bearer {created['key']}"}
    live.call("GET", FILES, 200, user=None, headers=key)
    denied = live.call("POST", f"{API_PREFIX}/memory", 403, user=None, headers=key,
                       data=json.dumps({"content": "x"}), **as_json).get_json()
    assert denied["missing_scope"] == "memory:write"
    live.call("GET", keys, 403, user=None, headers=key)
    live.call("GET", f"{FILES}/count", 200, user=None, headers=key)
    limited = live.call("GET", f"{FILES}/count", 429, user=None, headers=key)
    assert int(limited.headers["Retry-After"]) == limited.get_json()["retry_after"] >= 1
    live.call("DELETE", one, 200, key_id=created["id"])
    live.call("DELETE", one, 404, key_id=created["id"])
    live.call("GET", FILES, 401, user=None, headers=key)


@pytest.fixture
def live(doc, tmp_path, monkeypatch) -> Iterator[Live]:
    env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET,
           "WORKSPACE_STORAGE_DIR": str(tmp_path / "storage"), "CLAMAV_SERVICE_ENABLED": "false",
           "MEMORY_MAX_LENGTH": "200", "MEDIA_EXEC_ROOT": str(tmp_path / "exec"),
           "MEDIA_MAX_BODY_MB": "1", "API_KEY_RATE_PER_MINUTE": "4"}
    for name in ("MEDIA_GCS_BUCKET_NAME", "METADATA_BACKEND", "SIGNING_SECRET",
                 "LIST_DEFAULT_LIMIT", "LIST_MAX_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    factory.reset()
    from localdev.server import build_app

    yield Live(doc, Client(build_app(), Response))
    factory.reset()


def upload_body(content: bytes, filename: str, **fields: Any) -> dict[str, Any]:
    import io

    return {"data": {**fields, "file": (io.BytesIO(content), filename)},
            "content_type": "multipart/form-data"}


def test_every_operation_answers_as_documented(doc, live):
    one = f"{FILES}/{{file_id}}"
    memory = f"{API_PREFIX}/memory"
    mem_json = {"content_type": "application/json"}

    live.call("GET", "/healthz", 200, user=None)
    first = live.call("POST", FILES, 201, headers={"X-Agent-Id": "storyboard_agent"},
                      **upload_body(b"a lighthouse at dusk\n", "frame1.txt",
                                    description="Storyboard frame 1", tags=["storyboard", "f1"],
                                    metadata='{"scene": 1}')).get_json()
    file_id = first["id"]
    live.call("POST", FILES, 201, headers={"X-Session-Id": "s1"},
              **upload_body(b"# Ideas\n", "ideas.md"))
    live.call("POST", FILES, 409, **upload_body(b"again\n", "frame1.txt"))
    live.call("POST", FILES, 415, data=b"{}", content_type="application/json")
    live.call("POST", FILES, 400, **upload_body(b"x", "x.txt", surprise="1"))
    live.call("POST", FILES, 401, user=None, **upload_body(b"x", "x.txt"))

    page = live.call("GET", FILES, 200, query="limit=1&include_all_sessions=true")
    assert page.headers["X-Next-Cursor"] and 'rel="next"' in page.headers["Link"]
    live.call("GET", FILES, 200, query=f"cursor={page.headers['X-Next-Cursor']}"
                                       "&include_all_sessions=true")
    live.call("GET", FILES, 400, query="surprise=1")
    live.call("GET", f"{FILES}/count", 200, query="tags=storyboard")
    live.call("GET", f"{FILES}/search", 200, query="query=storyboard&limit=5")
    live.call("GET", f"{FILES}/search", 400)

    live.call("GET", one, 200, file_id=file_id)
    assert live.call("POST", f"{one}/rescan", 200, file_id=file_id).get_json()["scan"]
    live.call("POST", f"{one}/rescan", 404, file_id="file_999999")
    events = live.call("GET", f"{API_PREFIX}/events", 200, query="limit=1").get_json()
    live.call("GET", f"{API_PREFIX}/events", 200, query=f"cursor={events['next_cursor']}")
    live.call("GET", f"{API_PREFIX}/events", 400, query="cursor=nonsense")
    live.call("POST", FILES, 201, **upload_body(b"a lighthouse at night\n", "frame1.txt",
                                                overwrite="true", expected_version="1"))
    stale = live.call("POST", FILES, 409, **upload_body(b"lost race\n", "frame1.txt",
                                                        overwrite="true", expected_version="1"))
    assert stale.get_json()["current_version"] == 2
    versions = live.call("GET", f"{one}/versions", 200, file_id=file_id).get_json()
    assert [v["version"] for v in versions] == [2, 1]
    live.call("GET", f"{one}/versions", 404, file_id="file_999999")
    live.call("GET", f"{one}/content", 200, file_id=file_id, query="version=1")
    live.call("GET", f"{one}/content", 404, file_id=file_id, query="version=7")
    usage = live.call("GET", f"{API_PREFIX}/usage", 200).get_json()
    assert usage["live_bytes"] > 0 and usage["kept_bytes"] == 21
    live.call("GET", f"{API_PREFIX}/usage", 400, query="x=1")
    live.call("GET", one, 404, file_id="file_999999")
    live.call("GET", one, 404, file_id=file_id, user="bob")
    meta = live.call("GET", one, 200, file_id=file_id)
    live.call("GET", one, 304, file_id=file_id, headers={"If-None-Match": meta.headers["ETag"]})
    edit = {"data": json.dumps({"description": "Frame one", "tags": ["storyboard"]}), **mem_json}
    live.call("PATCH", one, 200, file_id=file_id, headers={"If-Match": meta.headers["ETag"]},
              **edit)
    live.call("PATCH", one, 409, file_id=file_id, headers={"If-Match": meta.headers["ETag"]},
              **edit)
    live.call("PATCH", one, 400, file_id=file_id, data=json.dumps({"tags": "x"}), **mem_json)
    live.call("PATCH", one, 404, file_id="file_999999", **edit)
    live.call("PATCH", one, 415, file_id=file_id, data="x", content_type="text/plain")
    live.call("GET", f"{one}/content", 206, file_id=file_id, headers={"Range": "bytes=0-3"})
    live.call("GET", f"{one}/content", 416, file_id=file_id, headers={"Range": "bytes=999-"})
    bytes_etag = live.call("GET", f"{one}/content", 200, file_id=file_id).headers["ETag"]
    live.call("GET", f"{one}/content", 304, file_id=file_id,
              headers={"If-None-Match": bytes_etag})
    restore_v = f"{one}/versions/{{version}}/restore"
    live.call("POST", restore_v, 201, file_id=file_id, version="1")
    live.call("POST", restore_v, 404, file_id=file_id, version="99")
    live.call("POST", restore_v, 409, file_id=file_id, version="3")
    live.call("GET", f"{one}/content", 200, file_id=file_id)
    live.call("GET", f"{one}/content", 400, file_id=file_id, query="inline=maybe")
    link = live.call("GET", f"{one}/content", 200, file_id=file_id,
                     query="redirect=false").get_json()
    redirect = live.call("GET", f"{one}/content", 302, file_id=file_id, query="redirect=true")
    assert "/signed?" in redirect.headers["Location"]
    signed = urlsplit(link["url"])
    live.call("GET", f"{one}/signed", 200, user=None, file_id=file_id, query=signed.query)
    live.call("GET", f"{one}/signed", 404, user=None, file_id=file_id,
              query=signed.query.replace("sig=", "sig=0"))

    logs = f"{API_PREFIX}/logs"
    live.call("GET", logs, 200, query="limit=2&operation_type=create")
    live.call("GET", logs, 400, query="format=xml")
    export = live.call("GET", logs, 200, query="format=jsonl")
    lines = export.get_data(as_text=True).splitlines()
    assert lines
    for line in lines:
        live.validate(json.loads(line), {"$ref": "#/components/schemas/LogEntry"}, "jsonl line")

    live.call("POST", memory, 200, data=json.dumps({"content": "# Notes\n\nstoryboard fog"}),
              **mem_json)
    truncated = live.call("POST", memory, 200, data=json.dumps(
        {"content": "\n\nmore words. " * 30, "append": True}), **mem_json).get_json()
    assert truncated["truncated"] is True and "message" in truncated
    live.call("POST", memory, 409, headers={"If-Match": '"1"'},
              data=json.dumps({"content": "stale"}), **mem_json)
    live.call("POST", memory, 409, data=json.dumps(
        {"content": "x" * 300, "overflow": "reject"}), **mem_json)
    live.call("POST", memory, 400, data=json.dumps({"content": "x", "surprise": 1}), **mem_json)
    live.call("POST", memory, 415, data="content", content_type="text/plain")
    live.call("POST", memory, 413, data=json.dumps({"content": "x" * 50000}), **mem_json)
    live.call("GET", memory, 200)
    live.call("GET", f"{memory}/versions", 200)
    live.call("GET", f"{memory}/versions/{{version}}", 200, version="1")
    live.call("GET", f"{memory}/versions/{{version}}", 404, version="99")
    live.call("GET", f"{memory}/versions/{{version}}", 400, version="abc")
    live.call("POST", f"{memory}/versions/{{version}}/revert", 200, version="1")
    live.call("POST", f"{memory}/versions/{{version}}/revert", 409, version="1",
              headers={"If-Match": "1"})
    live.call("POST", f"{memory}/versions/{{version}}/revert", 404, version="99")

    upload_url = f"{FILES}/upload-url"  # embedded backends: direct uploads need GCS
    live.call("POST", upload_url, 501, data=json.dumps(
        {"filename": "a.txt", "size_bytes": 3, "mime_type": "text/plain"}), **mem_json)
    live.call("POST", upload_url, 400, data=json.dumps({"filename": 1}), **mem_json)
    live.call("POST", upload_url, 415, data="x", content_type="text/plain")

    live.call("GET", f"{API_PREFIX}/search", 200, query="query=storyboard")
    live.call("GET", f"{API_PREFIX}/search", 200, query="query=fog&types=memory&limit=1")
    live.call("GET", f"{API_PREFIX}/search", 400, query="query=fog&types=nope")

    media = f"{API_PREFIX}/media"

    def store(status: int, file: str, fmt: str = "for_local_processing", **extra: str):
        body = {"file": file, "return_format": fmt, "graph_exec_id": "exec1", **extra}
        return live.call("POST", media, status, data=json.dumps(body), **mem_json)

    local = store(200, "data:text/plain,hello%20media").get_json()["result"]
    store(200, local, "for_external_api")
    store(200, f"workspace://{file_id}", "for_block_output", session_id="s1")
    store(200, local, "for_block_output", session_id="s1")
    store(400, "ftp://example.com/x")
    store(403, "http://169.254.169.254/latest/meta-data/")
    store(403, "gcs://not-allowed/x.png")
    store(404, "missing.png")
    store(413, "data:;base64," + "A" * (2 * 1024 * 1024))
    live.call("POST", media, 415, data="file=x", content_type="text/plain")
    live.call("DELETE", f"{media}/{{graph_exec_id}}", 200, graph_exec_id="exec1")
    live.call("DELETE", f"{media}/{{graph_exec_id}}", 400, graph_exec_id="bad.id")

    dev_token = f"{API_PREFIX}/auth/dev-token"
    live.call("POST", dev_token, 200, user=None, data=json.dumps({"user": "carol"}), **mem_json)
    live.call("POST", dev_token, 400, user=None, data=json.dumps({"user": "no spaces"}),
              **mem_json)
    live.call("POST", dev_token, 415, user=None, data="user=carol", content_type="text/plain")

    exercise_keys(live)
    live.call("GET", API_PREFIX, 200)
    live.call("GET", f"{API_PREFIX}/summary", 200)
    live.call("GET", f"{API_PREFIX}/summary", 400, headers={"X-Agent-Id": "bad agent"})
    folders = f"{API_PREFIX}/folders"
    revision = live.call("GET", one, 200, file_id=file_id).get_json()["revision"]
    moved = live.call("PATCH", one, 200, file_id=file_id, headers={"If-Match": str(revision)},
                      data=json.dumps({"path": "/storyboard/"}), **mem_json).get_json()
    assert moved["path"] == "/storyboard/frame1.txt" and moved["revision"] == revision + 1
    live.call("PATCH", one, 409, file_id=file_id, headers={"If-Match": str(revision)},
              data=json.dumps({"filename": "x.txt"}), **mem_json)
    live.call("PATCH", one, 400, file_id=file_id,
              data=json.dumps({"filename": "x.txt", "tags": ["a"]}), **mem_json)
    live.call("PATCH", one, 400, file_id=file_id, data=json.dumps({"surprise": 1}), **mem_json)
    live.call("PATCH", one, 415, file_id=file_id, data="x", content_type="text/plain")
    live.call("PATCH", one, 404, file_id="file_999999", data=json.dumps({"filename": "x.txt"}),
              **mem_json)
    root = live.call("GET", folders, 200, query="path=/&include_all_sessions=true&limit=1")
    live.call("GET", folders, 200, query=f"include_all_sessions=true&cursor="
                                         f"{root.headers['X-Next-Cursor']}")
    live.call("GET", folders, 400, query="path=/storyboard")
    move = live.call("POST", f"{folders}/move", 200, data=json.dumps(
        {"from": "/storyboard/", "to": "/frames/"}), **mem_json).get_json()
    live.call("POST", f"{folders}/move", 409, data=json.dumps(
        {"from": "/frames/", "to": "/frames/old/"}), **mem_json)
    live.call("POST", f"{folders}/move", 404, data=json.dumps(
        {"from": "/nothing/", "to": "/x/"}), **mem_json)
    live.call("POST", f"{folders}/move", 400, data=json.dumps({"from": "/frames"}), **mem_json)
    live.call("POST", f"{folders}/move", 415, data="x", content_type="text/plain")
    live.call("GET", f"{folders}/moves/{{move_id}}", 200, move_id=move["id"])
    live.call("GET", f"{folders}/moves/{{move_id}}", 404, move_id="fmv_" + "0" * 20)
    live.call("DELETE", one, 200, file_id=file_id)
    live.call("DELETE", one, 404, file_id=file_id)
    trash = live.call("GET", FILES, 200, query="deleted=true").get_json()
    assert [f["id"] for f in trash] == [file_id]
    live.call("POST", f"{one}/restore", 200, file_id=file_id)
    live.call("POST", f"{one}/restore", 404, file_id=file_id)
    batch = f"{FILES}/batch-delete"
    results = live.call("POST", batch, 200, data=json.dumps({"ids": [file_id, "file_999999"]}),
                        **mem_json).get_json()["results"]
    assert [r["status"] for r in results] == [200, 404]
    live.call("POST", batch, 400, data=json.dumps({"ids": []}), **mem_json)

    wrong = live.client.put(FILES, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 405
    live.validate(wrong.get_json(), {"$ref": "#/components/schemas/Error"}, "405")
    unexercised = doc_operations(doc) - live.seen
    assert not unexercised, f"extend this scenario to cover {sorted(unexercised)}"
