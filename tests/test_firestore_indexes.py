"""``shared/metadata/firestore/indexes.json`` holds exactly the indexes the queries need.

The emulator runs any query without an index, so it cannot catch a missing one; production
Firestore refuses such a query. This test runs every query path of the store on the
emulator, collects the shapes ``shared.metadata.firestore.query.Query`` recorded, and checks
them against the index file in both directions: every shape that needs a composite index has it, and
every index in the file serves some query. It also shows that the check has teeth.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from localdev.emulators import FirestoreEmulator
from shared.files.folders import folder_entries
from shared.folderpaths import FOLDER_MOVE_KIND, FolderMove, new_move_id
from shared.metadata.firestore import FirestoreMetadataStore
from shared.metadata.firestore import query as fq
from shared.metadata.scans import RescanCursor
from shared.models import FileQuery, LogQuery
from shared.timeutil import plus_seconds, utcnow
from tests.metadata_helpers import (
    FILE_QUERIES,
    LOG_QUERIES,
    build_files,
    build_logs,
    draft,
    entry,
)
from tests.metadata_helpers import append_text as append
from tests.test_firestore_store import PROJECT, make_store


@pytest.fixture
def store(firestore_emulator: FirestoreEmulator,
          monkeypatch: pytest.MonkeyPatch) -> FirestoreMetadataStore:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host_port)
    firestore_emulator.reset(PROJECT)
    return make_store(firestore_emulator.host_port)


def exercise_every_query(store: FirestoreMetadataStore) -> set[fq.QueryShape]:
    """Run each query path (each filter kind, with and without cursors) and return the shapes."""
    fq.RECORDED_SHAPES.clear()
    fws, lws = build_files(store), build_logs(store)
    for query in FILE_QUERIES:
        page = store.list_files(fws, dataclasses.replace(query, limit=2))
        store.list_files(fws, dataclasses.replace(query, limit=2, cursor=page.next_cursor))
        store.count_files(fws, query)
    store.search_files(fws, "report", None, 10)
    store.search_files(fws, "file", "image", 10)
    for log_query in LOG_QUERIES:
        page = store.list_logs(lws, dataclasses.replace(log_query, limit=2))
        store.list_logs(lws, dataclasses.replace(log_query, limit=2, cursor=page.next_cursor))
    store.count_logs(lws)
    store.oldest_log(lws)
    store.expire_logs("2000-01-01T00:00:00.000000Z", 10)
    store.search_logs(lws, "photo", 10)
    store.mutate_memory(fws, append("x"), None, 3)
    store.list_memory_versions(fws)
    store.due_purges(plus_seconds(utcnow(), 10**7), 10)
    store.list_file_versions(fws, "file_000001")
    store.usage(fws)
    store.list_keys(fws)
    store.reserve_file(fws, draft("/stale.txt"), False)
    assert store.stale_reservations(plus_seconds(utcnow(), 1), 10)
    exercise_folders(store, fws)
    exercise_events_and_rescans(store, fws)
    return set(fq.RECORDED_SHAPES)


def exercise_events_and_rescans(store: FirestoreMetadataStore, fws: str) -> None:
    """The outbox (a workspace's feed with a cursor, the pending drain, expiry) and the
    rescan job's candidates (with a cursor) and their count."""
    page = store.list_events(fws, None, 1)
    store.list_events(fws, page.next_cursor, 1)
    store.mark_published(store.pending_events(10))
    store.expire_events("2000-01-01T00:00:00.000000Z", 10)
    first = store.rescan_candidates(10**9, None, 1)
    if first:
        store.rescan_candidates(10**9, RescanCursor.of(first[-1]), 1)
    store.count_rescan_candidates(10**9)


def exercise_folders(store: FirestoreMetadataStore, fws: str) -> None:
    """Folder listings (with a cursor), a file's move, a folder move run step by step."""
    page = store.list_folder(fws, "/docs/", None, 2)
    store.list_folder(fws, "/docs/", page.next_after, 2)
    store.move_file(fws, "file_000003", "/moved/file2.bin", "file2.bin", None,
                    lambda before, after: entry("update", after.id))
    now = utcnow()
    move = FolderMove(new_move_id(), fws, "/docs/sub/", "/elsewhere/", "claiming", now, now)
    entries = folder_entries(move)
    move = store.start_folder_move(move, entries, 0)
    while move.active:
        move = store.resume_folder_move(move, entries, 0)
    assert move.status == "done"
    assert store.due_docs(FOLDER_MOVE_KIND, plus_seconds(now, 10**7), 10)


def test_every_query_has_its_index_and_every_index_a_query(
        store: FirestoreMetadataStore) -> None:
    shapes = exercise_every_query(store)
    indexes = fq.load_indexes()
    assert {(s.collection, s.scope) for s in shapes} == {
        ("api_keys", fq.COLLECTION), ("files", fq.COLLECTION),
        ("files", fq.COLLECTION_GROUP), ("logs", fq.COLLECTION), ("logs", fq.COLLECTION_GROUP),
        ("memory_versions", fq.COLLECTION), ("purge_queue", fq.COLLECTION),
        ("versions", fq.COLLECTION), ("paths", fq.COLLECTION),
        ("folder_moves", fq.COLLECTION), ("events", fq.COLLECTION),
        ("events", fq.COLLECTION_GROUP)}
    assert [s for s in shapes if s.needs_composite()], "no query needed a composite index?"
    assert fq.missing_indexes(shapes, indexes) == []
    assert fq.unused_indexes(shapes, indexes) == []
    # The check has teeth: without any one index, some query shape is reported missing.
    for position, index in enumerate(indexes):
        fewer = copy.deepcopy(indexes)
        del fewer[position]
        missing = fq.missing_indexes(shapes, fewer)
        assert missing, f"removing {index} went unnoticed"
        assert any(fq.covers(index, m) for m in missing)


def test_a_spare_index_is_reported_unused(store: FirestoreMetadataStore) -> None:
    shapes = exercise_every_query(store)
    spare = {"collection": "logs", "query_scope": fq.COLLECTION, "fields": [
        {"field_path": "agent_id", "order": fq.ASC}, {"field_path": "ts", "order": fq.DESC}]}
    assert fq.unused_indexes(shapes, [*fq.load_indexes(), spare]) == [spare]


def test_coverage_rule() -> None:
    shape = fq.QueryShape("logs", fq.COLLECTION, frozenset({"a", "b"}), "facets",
                          (("ts", fq.DESC), ("id", fq.DESC)))
    index = shape.index()
    assert fq.covers(index, shape)
    swapped = copy.deepcopy(index)  # equality fields may come in any order
    swapped["fields"][0], swapped["fields"][1] = swapped["fields"][1], swapped["fields"][0]
    assert fq.covers(swapped, shape)
    wrong_direction = copy.deepcopy(index)
    wrong_direction["fields"][-1]["order"] = fq.ASC
    assert not fq.covers(wrong_direction, shape)
    assert not fq.covers({**index, "query_scope": fq.COLLECTION_GROUP}, shape)
    assert not fq.covers({**index, "fields": index["fields"][1:]}, shape)
    named = copy.deepcopy(index)  # an explicit trailing __name__ changes nothing
    named["fields"].append({"field_path": "__name__", "order": fq.DESC})
    assert fq.covers(named, shape)
    # Shapes the automatic single-field indexes serve.
    single = [fq.QueryShape("x", fq.COLLECTION, frozenset({"a", "b"}), None, ()),
              fq.QueryShape("x", fq.COLLECTION, frozenset(), None, (("ts", fq.DESC),)),
              fq.QueryShape("x", fq.COLLECTION, frozenset(), "tags", ())]
    assert not any(s.needs_composite() for s in single)
    assert fq.QueryShape("x", fq.COLLECTION, frozenset({"a"}), "tags", ()).needs_composite()


def test_index_file_has_the_terraform_shape() -> None:
    for index in fq.load_indexes():
        assert set(index) == {"collection", "query_scope", "fields"}
        assert len(index["fields"]) >= 2
        for spec in index["fields"]:
            assert set(spec) in ({"field_path", "order"}, {"field_path", "array_config"})


def test_queries_record_their_shape_when_built(store: FirestoreMetadataStore) -> None:
    fq.RECORDED_SHAPES.clear()
    store.list_files("ws_none", FileQuery(tags=("a",)))
    store.list_logs("ws_none", LogQuery(since="2024-01-01T00:00:00.000000Z"))
    recorded = set(fq.RECORDED_SHAPES)
    assert recorded == {
        fq.QueryShape("files", fq.COLLECTION, frozenset({"live"}), "facets",
                      (("number", fq.ASC),)),
        fq.QueryShape("logs", fq.COLLECTION, frozenset(), None,
                      (("ts", fq.DESC), ("id", fq.DESC))),
    }
