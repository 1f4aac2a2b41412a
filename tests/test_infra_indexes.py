"""Terraform creates exactly the Firestore indexes the code needs, from the code's own file.

``shared/metadata/firestore/indexes.json`` is the single list: the store's drift test
(``tests/test_firestore_indexes.py``) checks it against every query shape, and Terraform
must ``jsondecode(file(...))`` that same file and turn each entry, field by field, into a
``google_firestore_index``. This checks the wiring and expands it as Terraform would.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from shared.metadata.firestore import query as fq
from tests.infra_hcl import Config, dynamic, load_config

_FILE = re.compile(r'\$\{jsondecode\(file\("\$\{path\.module\}/([^"]+)"\)\)\}')
FIELD_MAPPING = {"field_path": "${fields.value.field_path}",
                 "order": "${try(fields.value.order, null)}",
                 "array_config": "${try(fields.value.array_config, null)}"}


def index_key(index: dict[str, Any]) -> str:
    """``local.firestore_index_map``'s key expression, in Python."""
    fields = [f"{f['field_path']}:{f.get('order', f.get('array_config'))}" for f in index["fields"]]
    return "|".join([index["collection"], index["query_scope"], *fields])


def terraform_indexes(config: Config) -> tuple[list[dict[str, Any]], list[str]]:
    """The indexes Terraform would create, and what in the wiring is wrong."""
    sources = {name: _FILE.fullmatch(value) for name, value in config.locals.items()
               if isinstance(value, str) and _FILE.fullmatch(value)}
    if len(sources) != 1:
        return [], [f"expected one local reading the index file, found {sorted(sources)}"]
    (local_name, match), = sources.items()
    problems = []
    path = (config.root / match.group(1)).resolve()
    if path != fq.INDEX_FILE.resolve():
        problems.append(f"Terraform reads {path}, not the code's {fq.INDEX_FILE}")
    index_map = str(config.locals.get("firestore_index_map", ""))
    if f"local.{local_name}" not in index_map:
        problems.append(f"local.firestore_index_map is not built from local.{local_name}")
    resources = config.of_type("google_firestore_index")
    if not resources:
        problems.append("no google_firestore_index resource")
    for name, body in resources.items():
        if body.get("for_each") != "${local.firestore_index_map}":
            problems.append(f"google_firestore_index.{name} is written by hand, not from the file")
        if (body.get("collection"), body.get("query_scope")) != (
                "${each.value.collection}", "${each.value.query_scope}"):
            problems.append(f"google_firestore_index.{name}: collection/scope not from the file")
        fields = dynamic(body, "fields") or {}
        content = (fields.get("content") or [{}])[0]
        if fields.get("for_each") != "${each.value.fields}" or content != FIELD_MAPPING:
            problems.append(f"google_firestore_index.{name}: fields are not mapped one to one")
    indexes = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    keys = [index_key(index) for index in indexes]
    problems += [f"duplicate index {key}" for key in sorted({k for k in keys if keys.count(k) > 1})]
    return indexes, problems


def check_indexes(config: Config, code_indexes: list[dict[str, Any]]) -> list[str]:
    """Empty when Terraform would create exactly ``code_indexes``."""
    indexes, problems = terraform_indexes(config)
    wanted = {index_key(i) for i in code_indexes}
    made = {index_key(i) for i in indexes}
    problems += [f"Terraform does not create {key}" for key in sorted(wanted - made)]
    problems += [f"Terraform creates {key}, which no query needs" for key in sorted(made - wanted)]
    return problems


@pytest.fixture
def cfg() -> Config:
    return load_config()


def test_terraform_creates_exactly_the_codes_indexes(cfg):
    assert check_indexes(cfg, fq.load_indexes()) == []
    indexes, _ = terraform_indexes(cfg)
    assert len(indexes) == len(fq.load_indexes()) >= 1


def test_an_index_the_code_needs_but_terraform_lacks_is_reported(cfg, tmp_path: Path):
    fewer = fq.load_indexes()[1:]
    copy = tmp_path / "firestore_indexes.json"
    copy.write_text(json.dumps(fewer), encoding="utf-8")
    relative = os.path.relpath(copy, cfg.root)
    cfg.locals["firestore_indexes"] = f'${{jsondecode(file("${{path.module}}/{relative}"))}}'
    problems = check_indexes(cfg, fq.load_indexes())
    assert any("not the code's" in p for p in problems), problems
    assert f"Terraform does not create {index_key(fq.load_indexes()[0])}" in problems


def test_an_index_no_query_needs_is_reported(cfg):
    code = fq.load_indexes()[1:]  # the code dropped a query; the file still has its index
    assert check_indexes(cfg, code) == [
        f"Terraform creates {index_key(fq.load_indexes()[0])}, which no query needs"]


def test_a_hand_written_index_is_reported(cfg):
    cfg.resources["google_firestore_index"]["extra"] = {
        "collection": "files", "query_scope": "COLLECTION"}
    problems = check_indexes(cfg, fq.load_indexes())
    assert "google_firestore_index.extra is written by hand, not from the file" in problems


def test_a_copied_index_list_is_reported(cfg):
    cfg.locals["firestore_indexes"] = "${[]}"
    assert check_indexes(cfg, fq.load_indexes())[0].startswith("expected one local reading")


def test_a_dropped_field_mapping_is_reported(cfg):
    body = cfg.resource("google_firestore_index", "composite")
    del dynamic(body, "fields")["content"][0]["array_config"]
    assert any("fields are not mapped" in p for p in check_indexes(cfg, fq.load_indexes()))


def test_log_entries_expire_by_a_ttl_policy_and_the_sweep_has_its_index() -> None:
    """Issue 12: Firestore's TTL policy deletes log entries by ``expire_at`` (written by
    ``layout.log_doc``), and the sweep's fallback collection-group query on ``ts`` has the
    single-field index production needs (the emulator would not ask for it)."""
    from shared.metadata.firestore import layout
    from tests.infra_hcl import block, blocks
    from tests.metadata_helpers import entry

    fields = load_config().resources["google_firestore_field"]
    ttl = [body for body in fields.values() if body.get("field") == "expire_at"
           and body.get("collection") == "logs"]
    assert len(ttl) == 1 and block(ttl[0], "ttl_config") is not None
    ts = [body for body in fields.values() if body.get("field") == "ts"]
    assert len(ts) == 1 and ts[0]["collection"] == "logs"
    scopes = {(i["order"], i["query_scope"]) for i in blocks(block(ts[0], "index_config"),
                                                             "indexes")}
    # An override replaces the automatic indexes: the collection ones must be kept too.
    assert scopes == {("ASCENDING", "COLLECTION"), ("DESCENDING", "COLLECTION"),
                      ("ASCENDING", "COLLECTION_GROUP")}
    doc = layout.log_doc(entry(ts="2026-01-01T00:00:00.000000Z"), 90)
    assert doc["expire_at"].isoformat() == "2026-04-01T00:00:00+00:00"
    assert "expire_at" not in layout.log_doc(entry(), 0)
