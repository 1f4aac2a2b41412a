"""The order pytest-xdist hands out test scopes in ``make test``: longest first.

``make test`` runs two workers with ``--dist loadscope --no-loadscope-reorder``: each scope
(a module, or a class) goes whole to one worker, in the order this hook leaves the items.
xdist's own order (most tests first) put the Schemathesis run, one test of several
minutes, last: one worker ran it alone while the other sat idle, the longest stretch of
the run. Here the scopes known to be long (``pytest --durations``) go first, in the order
listed, and the rest follow most tests first, as xdist would have sent them. The order
changes when tests run, never what they check; ``TEST_WORKERS=0`` runs in the same order.
"""

from __future__ import annotations

import pytest

# Longest first, from `pytest -n 2 --durations=0` on this 2-core machine (seconds of the
# scope's tests on one worker; a slow machine takes about twice as long).
LONG_SCOPES = (
    "tests/test_schemathesis.py",  # ~100-200 s: two Schemathesis runs
    "tests/contract/test_versions_api.py",  # 16 overwriters x 50 rounds, twice
    "tests/contract/test_metadata_store.py::TestFirestoreMetadataStore",
    "tests/contract/test_metadata_store.py::TestSqliteMetadataStore",
    "tests/test_firestore_store.py",  # waits out a dead emulator
    "tests/test_cloud_failures.py",
    "tests/contract/test_folder_move_concurrency.py",
)


def scope_of(nodeid: str) -> str:
    """The scope xdist's ``loadscope`` groups a test under: its module, or its class."""
    return nodeid.rsplit("::", 1)[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reorder whole scopes: the long ones first, then the others by size."""
    scopes: dict[str, list[pytest.Item]] = {}
    for item in items:
        scopes.setdefault(scope_of(item.nodeid), []).append(item)
    rank = {scope: index for index, scope in enumerate(LONG_SCOPES)}

    def key(scope: str) -> tuple[int, int]:
        return (rank.get(scope, len(rank)), -len(scopes[scope]))

    items[:] = [item for scope in sorted(scopes, key=key) for item in scopes[scope]]
