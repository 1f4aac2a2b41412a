"""The scheduling hook (``tests/scheduling.py``): long scopes first, every test kept."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from tests import scheduling

ROOT = Path(__file__).resolve().parent.parent


def test_every_long_scope_names_a_module_or_class_that_exists():
    # A renamed module or class would silently fall back to the end of the run.
    for scope in scheduling.LONG_SCOPES:
        path, _, cls = scope.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        if cls:
            assert re.search(rf"^class {cls}\b", source, re.M), scope


def test_long_scopes_go_first_and_the_rest_by_size_with_every_item_kept():
    ids = ["tests/test_a.py::t1", "tests/test_b.py::t1", "tests/test_b.py::t2",
           "tests/test_cloud_failures.py::t1", "tests/test_schemathesis.py::t1",
           "tests/contract/test_metadata_store.py::TestSqliteMetadataStore::t1",
           "tests/test_a.py::t2[x]", "tests/test_b.py::t3"]
    items = [SimpleNamespace(nodeid=i) for i in ids]
    scheduling.pytest_collection_modifyitems(items)
    order = [i.nodeid for i in items]
    assert sorted(order) == sorted(ids)
    assert order == [
        "tests/test_schemathesis.py::t1",
        "tests/contract/test_metadata_store.py::TestSqliteMetadataStore::t1",
        "tests/test_cloud_failures.py::t1",
        "tests/test_b.py::t1", "tests/test_b.py::t2", "tests/test_b.py::t3",
        "tests/test_a.py::t1", "tests/test_a.py::t2[x]",
    ]
