"""The ``MetadataStore`` contract: every backend passes the same tests (fsspec's way).

``MetadataStoreContract`` holds the tests; each backend is a small subclass that provides
``store`` (a fresh, empty store), ``another`` (a second instance on the same data, as a
second process or Cloud Functions instance would have) and ``spec`` (how a spawned process
builds one). SQLite runs on a temporary file, Firestore on the session emulator with a
project of its own per test.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.errors import Conflict, NotFound
from shared.metadata.base import MetadataStore
from shared.metadata.firestore import FirestoreMetadataStore
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import FileQuery, Finalization, LogQuery, MemoryChange, MemoryDoc, Usage
from shared.timeutil import plus_seconds, utcnow
from tests.metadata_helpers import (
    RETENTION,
    append_text,
    draft,
    entry,
    facts,
    finalize,
    in_threads,
    put,
)


def build(spec: tuple[str, ...]) -> MetadataStore:
    """A store from a picklable spec: ("sqlite", dir) or ("firestore", host, project)."""
    if spec[0] == "sqlite":
        return SqliteMetadataStore(spec[1])
    os.environ["FIRESTORE_EMULATOR_HOST"] = spec[1]
    return FirestoreMetadataStore(Settings(gcp_project=spec[2], firestore_emulator_host=spec[1]))


def _reserve_in_process(spec: tuple[str, ...], ws_id: str, path: str, barrier: Any,
                        results: Any) -> None:
    store = build(spec)
    store.ping()  # open the connection before the start line
    barrier.wait(timeout=60)
    try:
        r = store.reserve_file(ws_id, draft(path), False)
        results.put(("ok", r.file_id, r.number))
    except Conflict as exc:
        results.put(("conflict", exc.message, 0))


class MetadataStoreContract:
    """What every metadata backend promises."""

    spec: tuple[str, ...]

    @pytest.fixture
    def another(self, store: MetadataStore) -> Callable[[], MetadataStore]:
        return lambda: build(self.spec)

    # -- workspaces -----------------------------------------------------------------------
    def test_workspace_created_once_under_16_racing_instances(self, store, another):
        stores = [another() for _ in range(16)]
        results = in_threads(16, lambda i: stores[i].get_or_create_workspace("alice"))
        assert all(not isinstance(r, Exception) for r in results), results
        assert len({r.id for r in results}) == 1
        ws = store.get_or_create_workspace("alice")
        assert ws.id == results[0].id and ws.user_id == "alice"
        assert ws.created_at == ws.updated_at
        assert store.get_or_create_workspace("bob/../alice").id != ws.id  # any id is a key

    def test_workspace_updated_at_moves_with_changes(self, store):
        ws = store.get_or_create_workspace("alice")
        time.sleep(0.01)
        put(store, ws.id, "/a.txt")
        later = store.get_or_create_workspace("alice")
        assert later.created_at == ws.created_at and later.updated_at > ws.updated_at

    # -- reservations and versions --------------------------------------------------------
    def test_16_processes_reserving_one_path_one_wins(self, store):
        ws = store.get_or_create_workspace("alice").id
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(16), ctx.Queue()
        procs = [ctx.Process(target=_reserve_in_process,
                             args=(self.spec, ws, "/same.txt", barrier, results))
                 for _ in range(16)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        wins = [o for o in outcomes if o[0] == "ok"]
        assert len(wins) == 1, outcomes
        assert all(o[1] == "an upload to this path is already in progress"
                   for o in outcomes if o[0] == "conflict")
        live = store.get_file_by_path(ws, "/same.txt")
        assert live is not None and live.id == wins[0][1] and live.status == "pending"
        assert store.count_files(ws, FileQuery()) == 1

    def test_16_concurrent_new_files_get_unique_increasing_numbers(self, store, another):
        ws = store.get_or_create_workspace("alice").id
        stores = [another() for _ in range(16)]
        results = in_threads(16, lambda i: stores[i].reserve_file(ws, draft(f"/f{i}.txt"),
                                                                  False))
        numbers = sorted(r.number for r in results)
        assert numbers == list(range(1, 17))  # unique; no path race, so no gaps either
        assert {r.file_id for r in results} == {f"file_{n:06d}" for n in numbers}
        assert store.reserve_file(ws, draft("/next.txt"), False).number == 17

    def test_overwrite_keeps_id_and_bumps_version(self, store):
        ws = store.get_or_create_workspace("alice").id
        first = put(store, ws, "/doc.txt", tags=("a",))
        with pytest.raises(Conflict) as exc:
            store.reserve_file(ws, draft("/doc.txt"), False)
        assert exc.value.extra == {"path": "/doc.txt", "file_id": first.id}
        second = put(store, ws, "/doc.txt", overwrite=True, tags=("b",))
        assert (second.id, second.number, second.version) == (first.id, first.number, 2)
        assert second.tags == ("b",) and second.created_at == first.created_at
        # Two overlapping overwrites: versions are numbered in commit order, each one live.
        d3, d4 = draft("/doc.txt", description="three"), draft("/doc.txt", description="four")
        r3 = store.reserve_file(ws, d3, True)
        r4 = store.reserve_file(ws, d4, True)
        assert (r3.slot, r4.slot) == (3, 4)  # distinct slots name distinct blobs
        assert r3.previous_storage_key == second.storage_key
        first_done, prev = finalize(store, ws, d4, r4, "k4")
        assert (first_done.version, first_done.description, prev) == (3, "four",
                                                                      second.storage_key)
        last_done, prev = finalize(store, ws, d3, r3, "k3")
        assert (last_done.version, last_done.description, prev) == (4, "three", "k4")
        assert store.get_file(ws, first.id).version == 4
        history = store.list_file_versions(ws, first.id)
        assert [(v.version, v.storage_key) for v in history] == [
            (4, "k3"), (3, "k4"), (2, second.storage_key), (1, first.storage_key)]
        assert [v.superseded_at is None for v in history] == [True, False, False, False]
        now_due = [d.key for d in store.due_purges(plus_seconds(utcnow(), 1), 100)]
        assert "k4" not in now_due and second.storage_key not in now_due  # kept a while
        later = plus_seconds(utcnow(), RETENTION + 5)
        assert {"k4", second.storage_key} <= {d.key for d in store.due_purges(later, 100)}
        creates = store.list_logs(ws, LogQuery(resource_id=first.id)).items
        assert sorted(e.details["version"] for e in creates) == [1, 2, 3, 4]  # live ones only

    def test_an_expected_version_that_is_not_live_is_a_conflict(self, store):
        ws = store.get_or_create_workspace("alice").id
        put(store, ws, "/e.txt")
        put(store, ws, "/e.txt", overwrite=True)
        d = draft("/e.txt")
        r = store.reserve_file(ws, d, True)
        done = Finalization(d, r, "late", "local://late", facts(), expected_version=1)
        with pytest.raises(Conflict) as refused:
            store.finalize_file(ws, done, entry(), RETENTION)
        assert refused.value.extra["current_version"] == 2
        assert store.get_file_by_path(ws, "/e.txt").version == 2
        assert len(store.list_file_versions(ws, r.file_id)) == 2
        ok = Finalization(d, r, "on-time", "local://on-time", facts(), expected_version=2)
        assert store.finalize_file(ws, ok, entry(), RETENTION)[0].version == 3

    def test_versions_are_kept_until_purged_and_counted_in_usage(self, store):
        ws = store.get_or_create_workspace("alice").id
        first = put(store, ws, "/u.txt")
        put(store, ws, "/u.txt", overwrite=True)
        assert store.usage(ws) == Usage(live_bytes=5, kept_bytes=5, file_count=1)
        kept = store.get_file_version(ws, first.id, 1)
        assert kept is not None and kept.superseded_at is not None and not kept.purged
        due = store.due_purges(plus_seconds(utcnow(), RETENTION + 5), 10)
        assert [d.key for d in due] == [first.storage_key]
        assert store.mark_purged(due) == 1
        assert store.get_file_version(ws, first.id, 1).purged
        assert store.usage(ws) == Usage(live_bytes=5, kept_bytes=0, file_count=1)
        gone = store.get_file_by_path(ws, "/u.txt")
        store.delete_file(ws, gone.id, entry("delete"), RETENTION)
        assert store.usage(ws) == Usage(live_bytes=0, kept_bytes=5, file_count=0)
        assert store.get_file_version(ws, first.id, 2).superseded_at is not None
        assert store.get_file_version(ws, first.id, 9) is None

    def test_concurrent_overwrites_get_distinct_versions(self, store, another):
        ws = store.get_or_create_workspace("alice").id
        put(store, ws, "/hot.txt")
        stores = [another() for _ in range(16)]
        results = in_threads(16, lambda i: stores[i].reserve_file(ws, draft("/hot.txt"), True))
        assert sorted(r.slot for r in results) == list(range(2, 18))
        done = in_threads(16, lambda i: finalize(stores[i], ws, draft("/hot.txt"), results[i],
                                                 f"hot-{i}")[0].version)
        assert sorted(done) == list(range(2, 18))  # every commit a distinct, live version
        assert [v.version for v in store.list_file_versions(ws, results[0].file_id)] == \
            list(range(17, 0, -1))

    def test_pending_upload_blocks_the_path_until_released(self, store):
        ws = store.get_or_create_workspace("alice").id
        r = store.reserve_file(ws, draft("/p.txt"), False)
        with pytest.raises(Conflict, match="already in progress"):
            store.reserve_file(ws, draft("/p.txt"), True)
        store.release_reservation(ws, r)
        store.release_reservation(ws, r)  # idempotent
        assert store.get_file(ws, r.file_id) is None
        again = store.reserve_file(ws, draft("/p.txt"), False)
        assert again.number == r.number + 1  # numbers are never reused

    def test_soft_delete_frees_the_path(self, store):
        ws = store.get_or_create_workspace("alice").id
        old = put(store, ws, "/x/y.txt")
        gone = store.delete_file(ws, old.id, entry("delete", old.id), RETENTION)
        assert gone.is_deleted and gone.updated_at == gone.deleted_at
        assert store.get_file_by_path(ws, "/x/y.txt") is None
        assert store.get_file(ws, old.id).is_deleted
        with pytest.raises(NotFound):
            store.delete_file(ws, old.id, entry("delete", old.id), RETENTION)
        new = put(store, ws, "/x/y.txt")
        assert new.id != old.id and store.get_file_by_path(ws, "/x/y.txt") == new
        due = [d.key for d in store.due_purges(utcnow(), 10)]
        assert old.storage_key not in due
        later = plus_seconds(utcnow(), RETENTION + 5)
        assert old.storage_key in [d.key for d in store.due_purges(later, 10)]
        r = store.reserve_file(ws, draft("/x/y.txt"), True)
        store.delete_file(ws, new.id, entry("delete"), RETENTION)
        with pytest.raises(Conflict, match="deleted while"):
            finalize(store, ws, draft("/x/y.txt"), r, "k")

    def test_mark_infected_only_turns_pending_new_files(self, store):
        ws = store.get_or_create_workspace("alice").id
        pending = store.reserve_file(ws, draft("/bad.txt"), False)
        marked = store.mark_infected(ws, pending.file_id, {"signature": "Eicar"},
                                     entry("scan", pending.file_id))
        assert marked is not None and marked.status == "infected"
        assert marked.metadata["scan"] == {"signature": "Eicar"}
        assert store.mark_infected(ws, pending.file_id, {}, entry("scan")) is None  # once
        ready = put(store, ws, "/good.txt")
        assert store.mark_infected(ws, ready.id, {}, entry("scan")) is None
        assert store.get_file(ws, ready.id).status == "ready"
        assert store.count_logs(ws) == 2  # the mark and the good file's create

    def test_usage_counts_live_files_and_deleted_ones_until_purged(self, store):
        ws = store.get_or_create_workspace("alice").id
        assert store.usage(ws) == Usage()
        a, _ = put(store, ws, "/a.txt"), put(store, ws, "/b.txt")
        store.reserve_file(ws, draft("/pending.txt"), False)  # no bytes yet
        assert store.usage(ws) == Usage(live_bytes=10, kept_bytes=0, file_count=3)
        store.delete_file(ws, a.id, entry("delete"), RETENTION)
        assert store.usage(ws) == Usage(live_bytes=5, kept_bytes=5, file_count=2)

    # -- memory -------------------------------------------------------------------------
    def test_memory_versions_are_trimmed(self, store):
        ws = store.get_or_create_workspace("alice").id
        assert store.get_memory(ws) == MemoryDoc()
        for i in range(6):
            doc = store.mutate_memory(ws, append_text(f"line {i}\n"), "agent-1",
                                      keep_versions=3)
        assert doc.version == 6 and store.get_memory(ws) == doc
        versions = store.list_memory_versions(ws)
        assert [v.version for v in versions] == [6, 5, 4]
        assert versions[0].content == doc.content and versions[0].operation == "append"
        assert store.get_memory_version(ws, 5).content.endswith("line 4\n")
        assert store.get_memory_version(ws, 3) is None
        store.mutate_memory(ws, append_text("x"), None, keep_versions=1)
        assert [v.version for v in store.list_memory_versions(ws)] == [7]
        assert store.count_logs(ws) == 7

    def test_stale_version_from_the_callback_changes_nothing(self, store):
        ws = store.get_or_create_workspace("alice").id
        store.mutate_memory(ws, append_text("keep"), "a", keep_versions=5)
        before = (store.get_memory(ws), store.list_memory_versions(ws), store.count_logs(ws),
                  store.get_or_create_workspace("alice").updated_at)

        def stale(current: MemoryDoc) -> MemoryChange:
            raise Conflict("memory version is stale", current_version=current.version)

        with pytest.raises(Conflict, match="stale"):
            store.mutate_memory(ws, stale, "a", keep_versions=5)
        after = (store.get_memory(ws), store.list_memory_versions(ws), store.count_logs(ws),
                 store.get_or_create_workspace("alice").updated_at)
        assert after == before

    def test_memory_appends_from_8_writers_lose_nothing(self, store, another):
        ws = store.get_or_create_workspace("alice").id
        stores = [another() for _ in range(8)]
        in_threads(8, lambda t: [stores[t].mutate_memory(ws, append_text(f"<m{t}-{i}>\n"),
                                                         f"w{t}", 20) for i in range(20)])
        doc = store.get_memory(ws)
        missing = [f"<m{t}-{i}>" for t in range(8) for i in range(20)
                   if f"<m{t}-{i}>" not in doc.content]
        assert missing == [] and doc.version == 160
        assert len(store.list_memory_versions(ws)) == 20 and store.count_logs(ws) == 160

    # -- keyed documents and the purge queue ----------------------------------------------
    def test_keyed_documents_are_compare_and_swap(self, store):
        kind, key = "test_docs", f"k/{uuid.uuid4().hex}"
        doc = store.create_doc(kind, key, {"n": 1}, "scope-a", "2026-01-01T00:00:00.000000Z")
        assert doc is not None and doc.data == {"n": 1}
        assert store.create_doc(kind, key, {"n": 2}, "scope-a", "2026") is None  # create-only
        got = store.get_doc(kind, key)
        assert got is not None and got.data == {"n": 1}
        newer = store.replace_doc(got, {"n": 3}, "2027-01-01T00:00:00.000000Z")
        assert newer is not None and store.get_doc(kind, key).data == {"n": 3}
        assert store.replace_doc(got, {"n": 4}, "2027") is None  # stale token
        assert store.delete_doc(got) is False  # stale token
        assert [d.key for d in store.due_docs(kind, "2026-06-01T00:00:00.000000Z", 10)] == []
        assert [d.key for d in store.due_docs(kind, "2027-06-01T00:00:00.000000Z", 10)] == [key]
        assert [d.key for d in store.scoped_docs(kind, "scope-a", 10)] == [key]
        assert store.scoped_docs(kind, "scope-b", 10) == []
        assert store.delete_doc(newer) is True
        assert store.get_doc(kind, key) is None
        store.put_doc(kind, key, {"n": 5}, "s", "2026")  # unconditional, twice
        store.put_doc(kind, key, {"n": 6}, "s", "2026")
        assert store.get_doc(kind, key).data == {"n": 6}

    def test_purge_queue(self, store):
        ws = store.get_or_create_workspace("alice").id
        first = put(store, ws, "/a.txt")
        put(store, ws, "/a.txt", overwrite=True)
        b = put(store, ws, "/b.txt")
        store.delete_file(ws, b.id, entry("delete"), 0)
        later = plus_seconds(utcnow(), RETENTION + 1)
        due = store.due_purges(later, 100)
        assert sorted(d.key for d in due) == sorted([first.storage_key, b.storage_key])
        assert [d.key for d in store.due_purges(utcnow(), 100)] == [b.storage_key]
        assert len(store.due_purges(later, 1)) == 1 and store.due_purges(later, 0) == []
        assert store.mark_purged(due) == 2
        assert store.due_purges(later, 100) == []

    def test_purge_intent_is_dropped_when_a_record_claims_the_blob(self, store):
        ws = store.get_or_create_workspace("alice").id
        soon, far = plus_seconds(utcnow(), 60), plus_seconds(utcnow(), 10**6)
        store.schedule_purge("orphan", soon)
        d = draft("/claimed.txt")
        r = store.reserve_file(ws, d, False)
        store.schedule_purge("claimed", soon)
        assert sorted(e.key for e in store.due_purges(soon, 10)) == ["claimed", "orphan"]
        finalize(store, ws, d, r, "claimed")
        assert [e.key for e in store.due_purges(far, 10)] == ["orphan"]

    def test_a_rescheduled_purge_is_not_forgotten_by_a_stale_mark(self, store):
        store.schedule_purge("blob", "2026-01-01T00:00:00.000000Z")
        due = store.due_purges("2026-06-01T00:00:00.000000Z", 10)
        store.schedule_purge("blob", "2027-01-01T00:00:00.000000Z")  # rescheduled since
        assert store.mark_purged(due) == 0
        assert [e.key for e in store.due_purges("2028-01-01T00:00:00.000000Z", 10)] == ["blob"]

    # -- session scope --------------------------------------------------------------------
    def test_search_scope_limits_the_hits_and_the_total(self, store):
        """Other sessions' matches neither crowd this session's out of a short page nor
        count in its total (Firestore's candidate cap: ``test_firestore_store.py``)."""
        ws = store.get_or_create_workspace("scoped").id
        for i in range(5):
            put(store, ws, f"/sessions/other/report{i}.txt")
        mine = put(store, ws, "/sessions/mine/report.txt")
        put(store, ws, "/sessions/mine2/report.txt")  # a sibling whose name extends "mine"
        got = store.count_search_files(ws, "report", None, 3, "/sessions/mine/")
        assert [r.id for r in got.items] == [mine.id] and got.total == 1
        everywhere = store.count_search_files(ws, "report", None, 3)
        assert len(everywhere.items) == 3 and everywhere.total == 7
        assert [r.id for r in store.search_files(ws, "report", None, 10, "/sessions/mine/")] \
            == [mine.id]

    def test_log_entries_keep_their_session_and_filter_by_it(self, store):
        ws = store.get_or_create_workspace("scoped").id
        for _ in range(5):
            store.append_log(ws, entry(details={"word": "needle"}, session="other"))
        store.append_log(ws, entry(details={"word": "needle"}, session="mine", log_id="log_m"))
        store.append_log(ws, entry(details={"word": "needle"}))
        page = store.list_logs(ws, LogQuery(session_id="mine"))
        assert [(e.id, e.session_id) for e in page.items] == [("log_m", "mine")]
        assert len(store.list_logs(ws, LogQuery()).items) == 7
        mine = store.count_search_logs(ws, "needle", 3, "mine")
        assert [e.id for e in mine.items] == ["log_m"] and mine.total == 1
        assert store.count_search_logs(ws, "needle", 3).total == 7
        assert [e.id for e in store.search_logs(ws, "needle", 10, "mine")] == ["log_m"]
        assert len(store.search_logs(ws, "needle", 10)) == 7

    # -- isolation and maintenance --------------------------------------------------------
    def test_one_user_never_sees_another(self, store):
        alice = store.get_or_create_workspace("alice").id
        bob = store.get_or_create_workspace("bob").id
        record = put(store, alice, "/secret.txt", tags=("red",), description="secret plans")
        store.mutate_memory(alice, append_text("alice only"), None, 5)
        assert store.get_file(bob, record.id) is None
        assert store.get_file_by_path(bob, "/secret.txt") is None
        assert store.list_files(bob, FileQuery()).items == []
        assert store.count_files(bob, FileQuery(tags=("red",))) == 0
        assert store.search_files(bob, "secret", None, 10) == []
        assert store.list_logs(bob, LogQuery()).items == [] and store.count_logs(bob) == 0
        assert store.search_logs(bob, "secret", 10) == []
        assert store.get_memory(bob) == MemoryDoc() and store.list_memory_versions(bob) == []
        with pytest.raises(NotFound):
            store.delete_file(bob, record.id, entry("delete"), RETENTION)
        assert store.get_file(alice, record.id) == record
        assert store.get_file("../workspaces/" + alice, record.id) is None  # ids aren't paths

    def test_stale_reservations(self, store):
        ws = store.get_or_create_workspace("alice").id
        pending = store.reserve_file(ws, draft("/p.txt"), False)
        put(store, ws, "/done.txt")
        r = store.reserve_file(ws, draft("/done.txt"), True)  # an overwrite is never stale
        assert r.is_new is False
        assert store.stale_reservations(plus_seconds(utcnow(), -60), 10) == []
        stale = store.stale_reservations(plus_seconds(utcnow(), 1), 10)
        assert stale == [(ws, pending)]
        store.release_reservation(*stale[0])
        assert store.stale_reservations(plus_seconds(utcnow(), 1), 10) == []
        assert store.get_file_by_path(ws, "/p.txt") is None

    def test_ping(self, store):
        assert store.ping() is True
        assert store.describe()["backend"] == store.name


class TestSqliteMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteMetadataStore:
        self.spec = ("sqlite", str(tmp_path / "sqlite"))
        return SqliteMetadataStore(self.spec[1])


class TestFirestoreMetadataStore(MetadataStoreContract):
    @pytest.fixture
    def store(self, firestore_emulator, monkeypatch) -> FirestoreMetadataStore:
        host = firestore_emulator.host_port
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        self.spec = ("firestore", host, f"meta-{uuid.uuid4().hex[:12]}")
        return build(self.spec)  # type: ignore[return-value]
