"""The embedded backend's listings and searches are served by an index, never by a scan of
every record or log entry of a workspace (issue 15: queries that don't grow with it).

Each case runs a real call on a small store, captures the SQL it executes (SQLite's trace
hook hands back each statement with its values bound) and asks SQLite for that statement's
plan. Dropping or mis-declaring an index turns a ``SEARCH ... USING INDEX`` into a ``SCAN``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.metadata.sqlite import SqliteMetadataStore, ranked
from shared.models import FileQuery, LogQuery
from tests.metadata_helpers import entry, put


@pytest.fixture
def store(tmp_path: Path) -> tuple[SqliteMetadataStore, str]:
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("planner").id
    for i in range(30):
        put(store, ws, f"/d/file-{i}.txt", ("image", "document")[i % 2], tags=("kilo",),
            description=f"nebula {i}")
        store.append_log(ws, entry("read", f"file_{i}", agent=f"agent_{i % 3}"))
    return store, ws


def _plans(store: SqliteMetadataStore, call) -> list[str]:
    statements: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert selects, "the call ran no query"
    return [" | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + s))
            for s in selects]


CASES = {
    "logs op+agent (none match)": (
        lambda s, ws: s.list_logs(ws, LogQuery(operation_type="delete", agent_id="agent_1")),
        "logs_ws_agent_op"),
    "logs op (none match)": (
        lambda s, ws: s.list_logs(ws, LogQuery(operation_type="delete")), "logs_ws_op"),
    "logs agent": (lambda s, ws: s.list_logs(ws, LogQuery(agent_id="agent_2")),
                   "logs_ws_agent"),
    "files type": (lambda s, ws: s.list_files(ws, FileQuery(file_type="image")),
                   "files_ws_type"),
    "files type+tag": (
        lambda s, ws: s.list_files(ws, FileQuery(file_type="image", tags=("kilo",))),
        "files_ws_type"),
    # Counted and paged in the word index (``sqlite.ranked``): no record read per match
    "files search": (lambda s, ws: s.count_search_files(ws, "nebula", None, 10),
                     ("SCAN files_search VIRTUAL TABLE",)),
    "logs search": (lambda s, ws: s.count_search_logs(ws, "agent_1", 10),
                    ("SCAN logs_search VIRTUAL TABLE",)),
    # Filters the index does not hold: FTS5 first, then each hit's row by its rowid, not
    # every ready record (or entry) tested in turn
    "files search by type": (lambda s, ws: s.count_search_files(ws, "nebula", "image", 10),
                             ("SCAN w VIRTUAL TABLE", "SEARCH files USING INTEGER PRIMARY KEY")),
    "logs search in a session": (
        lambda s, ws: s.count_search_logs(ws, "agent_1", 10, "s1"),
        ("SCAN f VIRTUAL TABLE", "SEARCH logs USING INTEGER PRIMARY KEY")),
}


@pytest.mark.parametrize("name", CASES)
def test_the_query_uses_its_index(store, name: str) -> None:
    sqlite_store, ws = store
    call, index = CASES[name]
    plans = _plans(sqlite_store, lambda: call(sqlite_store, ws))
    steps = index if isinstance(index, tuple) else (f"USING INDEX {index} (",)

    def follows(plan: str) -> bool:
        at = [plan.find(step) for step in steps]
        return -1 not in at and at == sorted(at)  # each step, in this order

    assert any(follows(plan) for plan in plans), plans
    for plan in plans:  # no step reads a whole table of records or entries
        assert "SCAN files" not in plan.replace("SCAN files_search", ""), plan
        assert "SCAN logs" not in plan.replace("SCAN logs_search", ""), plan


def test_every_connection_reads_through_the_shared_page_cache(store) -> None:
    """The search figures of ``bench/RESULTS.md`` rely on memory-mapped reads (row lookups
    at 50,000 files cost three times as much through each connection's own small cache)."""
    sqlite_store, _ = store
    assert sqlite_store._read("PRAGMA mmap_size")[0][0] >= 1 << 28


def test_a_search_by_score_level_reads_no_row_per_match(store, monkeypatch) -> None:
    """Many matches (``sqlite.ranked``): counted and paged in the word index; the only
    record or entry rows read are the page's (and the name/tag hits'), by rowid."""
    sqlite_store, ws = store
    monkeypatch.setattr(ranked, "LEVELS_FROM_MATCHES", 0)
    for call in (lambda: sqlite_store.count_search_files(ws, "nebula", None, 10),
                 lambda: sqlite_store.count_search_logs(ws, "agent_1", 10)):
        plans = _plans(sqlite_store, call)
        assert any("SCAN files_search" in p or "SCAN logs_search" in p for p in plans), plans
        for plan in plans:
            assert "SCAN files" not in plan.replace("SCAN files_search", ""), plan
            assert "SCAN logs" not in plan.replace("SCAN logs_search", ""), plan
            for step in re.findall(r"SEARCH (?:files|logs) [^|]*", plan):  # by rowid only
                assert "USING INTEGER PRIMARY KEY" in step, plan
