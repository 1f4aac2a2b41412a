"""``FirestoreMetadataStore`` beyond the contract: the same answers as SQLite, and outages.

The shared behaviour is ``tests/contract/test_metadata_store.py`` (on both backends). Here:
the query tests build the same data in Firestore and SQLite and compare every answer, page
by page and cursor by cursor; a dead emulator is a quick ``BackendUnavailable``; and health.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localdev.emulators import FirestoreEmulator, firestore_launcher
from shared.config import Settings
from shared.errors import BackendUnavailable
from shared.metadata.firestore import FirestoreMetadataStore
from shared.metadata.firestore import search as firestore_search
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import FileQuery
from tests.conftest import require
from tests.metadata_helpers import (
    FILE_QUERIES,
    LOG_QUERIES,
    append_text,
    build_files,
    build_logs,
    draft,
    entry,
    plain,
    put,
)

PROJECT = "fs-store-tests"


def make_store(host: str, project: str = PROJECT, deadline: float = 10.0
               ) -> FirestoreMetadataStore:
    """A store on the emulator at ``host`` (FIRESTORE_EMULATOR_HOST must name it)."""
    return FirestoreMetadataStore(Settings(gcp_project=project, firestore_emulator_host=host),
                                  deadline=deadline)


@pytest.fixture
def fs_env(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the client library at the emulator, with empty data."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host_port)
    firestore_emulator.reset(PROJECT)
    return firestore_emulator.host_port


@pytest.fixture
def store(fs_env: str) -> FirestoreMetadataStore:
    return make_store(fs_env)


@pytest.fixture
def sqlite(tmp_path: Path) -> SqliteMetadataStore:
    return SqliteMetadataStore(tmp_path / "sqlite")


def test_list_and_count_match_sqlite(store: FirestoreMetadataStore,
                                     sqlite: SqliteMetadataStore) -> None:
    fws, sws = build_files(store), build_files(sqlite)
    for query in FILE_QUERIES:
        big = dataclasses.replace(query, limit=1000)
        assert plain(store.list_files(fws, big).items) == plain(
            sqlite.list_files(sws, big).items), query
        assert store.count_files(fws, query) == sqlite.count_files(sws, query), query
        fcur = scur = None
        while True:  # walk in pages of 3: the same pages and the same cursors
            fpage = store.list_files(fws, dataclasses.replace(query, limit=3, cursor=fcur))
            spage = sqlite.list_files(sws, dataclasses.replace(query, limit=3, cursor=scur))
            assert plain(fpage.items) == plain(spage.items), query
            assert fpage.next_cursor == spage.next_cursor, query
            if fpage.next_cursor is None:
                break
            fcur, scur = fpage.next_cursor, spage.next_cursor
    assert store.count_files(fws, FileQuery()) == 23
    assert store.get_file(fws, "file_000002").metadata == {"i": 1, "nested": [[1, 2], {"k": None}]}


def test_search_matches_sqlite(store: FirestoreMetadataStore,
                               sqlite: SqliteMetadataStore) -> None:
    fws, sws = build_files(store), build_files(sqlite)
    for text, file_type in [("file1", None), ("report", None), ("REP num", None),
                            ("red", None), ("notes 1", "image"), ("季度", None), ("txt", None),
                            ("redone", None), ("pending", None), ("zzz", None), ("f", "other")]:
        got = store.search_files(fws, text, file_type, 50)
        assert plain(got) == plain(sqlite.search_files(sws, text, file_type, 50)), text
    assert len(store.search_candidates(fws, ["file"], None, 5)) == 5


def test_a_session_scope_applies_before_the_candidate_cap(
        store: FirestoreMetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Firestore ranks at most ``SEARCH_CANDIDATE_CAP`` candidates: a session's search must
    read its own files before that cap, so other sessions' matches never crowd them out,
    and a search past the cap says its total is a lower bound."""
    ws = store.get_or_create_workspace("scoped").id
    for i in range(5):
        put(store, ws, f"/sessions/other/report{i}.txt")
    mine = put(store, ws, "/sessions/mine/report.txt")
    put(store, ws, "/sessions/mine2/report.txt")  # a sibling whose name extends "mine"
    got = store.search_candidates(ws, ["report"], None, 3, "/sessions/mine/")
    assert [r.id for r in got] == [mine.id]
    assert len(store.search_candidates(ws, ["report"], None, 3)) == 3
    monkeypatch.setattr(firestore_search, "SEARCH_CANDIDATE_CAP", 3)
    scoped = store.count_search_files(ws, "report", None, 10, "/sessions/mine/")
    assert [r.id for r in scoped.items] == [mine.id] and scoped.total == 1
    assert not scoped.total_is_lower_bound
    everywhere = store.count_search_files(ws, "report", None, 10)
    assert everywhere.total_is_lower_bound and everywhere.total == 3


def test_logs_match_sqlite(store: FirestoreMetadataStore, sqlite: SqliteMetadataStore) -> None:
    fws, sws = build_logs(store), build_logs(sqlite)
    assert store.count_logs(fws) == sqlite.count_logs(sws) == 40
    for query in LOG_QUERIES:
        big = dataclasses.replace(query, limit=1000)
        assert store.list_logs(fws, big) == sqlite.list_logs(sws, big), query
        fcur = scur = None
        while True:
            fpage = store.list_logs(fws, dataclasses.replace(query, limit=4, cursor=fcur))
            spage = sqlite.list_logs(sws, dataclasses.replace(query, limit=4, cursor=scur))
            assert fpage == spage, query
            if fpage.next_cursor is None:
                break
            fcur, scur = fpage.next_cursor, spage.next_cursor
    for text in ["photo", "photo 1", "file_000003", "a2", "t4 update", "2.5", "nothing"]:
        assert store.search_logs(fws, text, 100) == sqlite.search_logs(sws, text, 100), text


def test_describe_names_the_project_and_the_emulator(store: FirestoreMetadataStore,
                                                     fs_env: str) -> None:
    assert store.describe() == {"backend": "firestore", "project": PROJECT, "emulator": fs_env}


def test_dead_emulator_gives_backend_unavailable(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    emu = FirestoreEmulator(tmp_path / "dying").start()
    try:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emu.host_port)
        # The set-up gets a generous deadline (a loaded machine can be slow), the calls
        # after the kill the short one they are measured against.
        setup = make_store(emu.host_port, deadline=30.0)
        ws = setup.get_or_create_workspace("alice").id
        put(setup, ws, "/a.txt")
        store = make_store(emu.host_port, deadline=2.0)
        emu.kill()
        calls: list[Callable[[], Any]] = [
            lambda: store.get_or_create_workspace("bob"),
            lambda: store.reserve_file(ws, draft("/b.txt"), False),
            lambda: store.get_file(ws, "file_000001"),
            lambda: store.list_files(ws, FileQuery(tags=("x",))),
            lambda: store.count_logs(ws),
            lambda: store.mutate_memory(ws, append_text("x"), None, 5),
            lambda: store.append_log(ws, entry()),
            lambda: store.schedule_purge("k", "2026"),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(BackendUnavailable):
                call()
            assert time.monotonic() - started < 30  # bounded by the 2 s deadline and retries
        assert store.ping() is False
    finally:
        emu.stop()
