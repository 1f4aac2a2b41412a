"""``FirestoreMetadataStore`` against the real Firestore emulator.

The store must behave like ``SqliteMetadataStore``; the query tests therefore build the same
data in both and compare every answer. The concurrency tests race separate store instances
(separate clients, and separate processes for the same-path race); the store keeps no
in-process lock, so what holds here holds across Cloud Functions instances.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localdev.emulators import FirestoreEmulator, firestore_launcher
from shared.config import Settings
from shared.errors import BackendUnavailable, Conflict, NotFound
from shared.metadata.base import MetadataStore, new_log_id
from shared.metadata.firestore import FirestoreMetadataStore
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import (
    BlobFacts,
    FileDraft,
    FileQuery,
    FileRecord,
    Finalization,
    LogEntry,
    LogQuery,
    MemoryChange,
    MemoryDoc,
)
from shared.timeutil import plus_seconds, utcnow
from tests.conftest import require

PROJECT = "fs-store-tests"
RETENTION = 3600


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirestoreEmulator]:
    """One Firestore emulator for the session; data is reset before each test."""
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    emu = FirestoreEmulator(tmp_path_factory.mktemp("fs")).start()
    yield emu
    emu.stop()


def make_store(host: str, project: str = PROJECT, deadline: float = 10.0
               ) -> FirestoreMetadataStore:
    """A store on the emulator at ``host`` (FIRESTORE_EMULATOR_HOST must name it)."""
    return FirestoreMetadataStore(Settings(gcp_project=project, firestore_emulator_host=host),
                                  deadline=deadline)


@pytest.fixture
def fs_env(emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the client library at the emulator, with empty data."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host_port)
    emulator.reset(PROJECT)
    return emulator.host_port


@pytest.fixture
def store(fs_env: str) -> FirestoreMetadataStore:
    return make_store(fs_env)


@pytest.fixture
def sqlite(tmp_path: Path) -> SqliteMetadataStore:
    return SqliteMetadataStore(tmp_path / "sqlite")


# -- helpers ----------------------------------------------------------------------------
def draft(path: str, tags: tuple[str, ...] = (), created_by: str | None = None,
          description: str = "", metadata: dict[str, Any] | None = None) -> FileDraft:
    return FileDraft(path.rsplit("/", 1)[1], path, None, description, tags, created_by,
                     metadata or {})


def facts(file_type: str = "document") -> BlobFacts:
    return BlobFacts(5, "ab" * 32, "text/plain", file_type)


def entry(op: str = "create", rid: str | None = None, ts: str | None = None,
          agent: str | None = None, task: str | None = None, rtype: str = "file",
          details: dict[str, Any] | None = None, log_id: str | None = None) -> LogEntry:
    return LogEntry(log_id or new_log_id(), ts or utcnow(), op, rtype, rid, details or {},
                    agent, task)


def put(store: MetadataStore, ws: str, path: str, file_type: str = "document",
        overwrite: bool = False, **kw: Any) -> FileRecord:
    """Reserve and finalize one upload, as ``FileService`` does."""
    d = draft(path, **kw)
    r = store.reserve_file(ws, d, overwrite)
    key = f"blobs/{r.file_id}/v{r.version}"
    done = Finalization(d, r, key, "local://" + key, facts(file_type))
    record, _ = store.finalize_file(ws, done, entry("create" if r.is_new else "update",
                                                    r.file_id), RETENTION)
    return record


def plain(value: Any) -> Any:
    """Drop what legitimately differs between backends: workspace ids and timestamps."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, FileRecord):
        return dataclasses.replace(value, workspace_id="", created_at="", updated_at="",
                                   deleted_at="deleted" if value.deleted_at else None)
    return value


def in_threads(count: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` in ``count`` threads released together; exceptions are returned."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# -- workspaces -------------------------------------------------------------------------
def test_workspace_created_once_under_16_racing_instances(fs_env: str) -> None:
    stores = [make_store(fs_env) for _ in range(16)]
    results = in_threads(16, lambda i: stores[i].get_or_create_workspace("alice"))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.id for r in results}) == 1
    ws = stores[0].get_or_create_workspace("alice")
    assert ws.id == results[0].id and ws.user_id == "alice"
    assert ws.created_at == ws.updated_at
    other = stores[1].get_or_create_workspace("bob/../alice")  # any user id is a safe key
    assert other.id != ws.id


def test_workspace_updated_at_moves_with_changes(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice")
    time.sleep(0.01)
    put(store, ws.id, "/a.txt")
    later = store.get_or_create_workspace("alice")
    assert later.created_at == ws.created_at and later.updated_at > ws.updated_at


# -- reservations -----------------------------------------------------------------------
def _reserve_in_process(host: str, ws_id: str, path: str, barrier: Any, results: Any) -> None:
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    store = make_store(host)
    store.ping()  # open the channel before the start line
    barrier.wait(timeout=60)
    try:
        r = store.reserve_file(ws_id, draft(path), False)
        results.put(("ok", r.file_id, r.number))
    except Conflict as exc:
        results.put(("conflict", exc.message, 0))


def test_16_processes_reserving_one_path_one_wins(store: FirestoreMetadataStore,
                                                   fs_env: str) -> None:
    ws = store.get_or_create_workspace("alice").id
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(16), ctx.Queue()
    procs = [ctx.Process(target=_reserve_in_process,
                         args=(fs_env, ws, "/same.txt", barrier, results)) for _ in range(16)]
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


def test_16_concurrent_new_files_get_unique_increasing_numbers(
        store: FirestoreMetadataStore, fs_env: str) -> None:
    ws = store.get_or_create_workspace("alice").id
    stores = [make_store(fs_env) for _ in range(16)]
    results = in_threads(16, lambda i: stores[i].reserve_file(ws, draft(f"/f{i}.txt"), False))
    numbers = sorted(r.number for r in results)
    assert numbers == list(range(1, 17))  # unique; no path race, so no gaps either
    assert {r.file_id for r in results} == {f"file_{n:06d}" for n in numbers}
    assert store.reserve_file(ws, draft("/next.txt"), False).number == 17


def test_overwrite_keeps_id_and_bumps_version(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    first = put(store, ws, "/doc.txt", tags=("a",))
    with pytest.raises(Conflict) as exc:
        store.reserve_file(ws, draft("/doc.txt"), False)
    assert exc.value.extra == {"path": "/doc.txt", "file_id": first.id}
    second = put(store, ws, "/doc.txt", overwrite=True, tags=("b",))
    assert (second.id, second.number, second.version) == (first.id, first.number, 2)
    assert second.tags == ("b",) and second.created_at == first.created_at
    # Two overlapping overwrites: the newer finishes first and stays.
    d3, d4 = draft("/doc.txt", description="three"), draft("/doc.txt", description="four")
    r3 = store.reserve_file(ws, d3, True)
    r4 = store.reserve_file(ws, d4, True)
    assert (r3.version, r4.version) == (3, 4)
    assert r3.previous_storage_key == second.storage_key
    rec4, prev = store.finalize_file(ws, Finalization(d4, r4, "k4", "local://k4", facts()),
                                     entry(), RETENTION)
    assert (rec4.version, rec4.description, prev) == (4, "four", second.storage_key)
    rec3, orphan = store.finalize_file(ws, Finalization(d3, r3, "k3", "local://k3", facts()),
                                       entry(), RETENTION)
    assert (rec3.version, rec3.description, orphan) == (4, "four", "k3")
    assert "k3" in store.due_purges(plus_seconds(utcnow(), 1), 100)
    assert second.storage_key not in store.due_purges(utcnow(), 100)
    assert store.get_file(ws, first.id).version == 4


def test_concurrent_overwrites_get_distinct_versions(store: FirestoreMetadataStore,
                                                     fs_env: str) -> None:
    ws = store.get_or_create_workspace("alice").id
    put(store, ws, "/hot.txt")
    stores = [make_store(fs_env) for _ in range(16)]
    results = in_threads(16, lambda i: stores[i].reserve_file(ws, draft("/hot.txt"), True))
    assert sorted(r.version for r in results) == list(range(2, 18))


def test_pending_upload_blocks_the_path_until_released(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    r = store.reserve_file(ws, draft("/p.txt"), False)
    with pytest.raises(Conflict, match="already in progress"):
        store.reserve_file(ws, draft("/p.txt"), True)
    store.release_reservation(ws, r)
    store.release_reservation(ws, r)  # idempotent
    assert store.get_file(ws, r.file_id) is None
    again = store.reserve_file(ws, draft("/p.txt"), False)
    assert again.number == r.number + 1  # numbers are never reused


def test_soft_delete_frees_the_path(store: FirestoreMetadataStore) -> None:
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
    assert old.storage_key not in store.due_purges(utcnow(), 10)
    assert old.storage_key in store.due_purges(plus_seconds(utcnow(), RETENTION + 5), 10)
    with pytest.raises(Conflict, match="deleted while"):
        r = store.reserve_file(ws, draft("/x/y.txt"), True)
        store.delete_file(ws, new.id, entry("delete"), RETENTION)
        store.finalize_file(ws, Finalization(draft("/x/y.txt"), r, "k", "local://k", facts()),
                            entry(), RETENTION)


# -- queries, compared with SQLite -------------------------------------------------------
def build_files(store: MetadataStore) -> str:
    """The same files in any store: types, tags, creators, folders, deletes, a pending one."""
    ws = store.get_or_create_workspace("alice").id
    tags = [(), ("red",), ("red", "blue"), ("blue",), ("green", "red")]
    for i in range(24):
        folder = ["/docs/", "/docs/sub/", "/sessions/s1/", "/", "/docs-old/"][i % 5]
        put(store, ws, f"{folder}file{i}.{['txt', 'png', 'bin'][i % 3]}",
            file_type=["document", "image", "other"][i % 3], tags=tags[i % 5],
            created_by=[None, "agent-a", "agent-b"][i % 3],
            description=f"report number {i} 季度报告" if i % 4 == 0 else f"notes {i}",
            metadata={"i": i, "nested": [[1, 2], {"k": None}]})
    for i in (3, 8):
        store.delete_file(ws, f"file_{i + 1:06d}", entry("delete"), RETENTION)
    put(store, ws, "/docs/file0.txt", overwrite=True, tags=("green",), description="redone")
    store.reserve_file(ws, draft("/docs/pending.txt", tags=("red",), created_by="agent-a"),
                       False)
    return ws


FILE_QUERIES = [
    FileQuery(), FileQuery(include_deleted=True), FileQuery(file_type="image"),
    FileQuery(tags=("red",)), FileQuery(tags=("red", "blue")), FileQuery(tags=("nope",)),
    FileQuery(created_by="agent-a"), FileQuery(path_prefix="/docs/"),
    FileQuery(path_prefix="/docs/sub/"), FileQuery(path_prefix="/"),
    FileQuery(path_prefix="/docs"), FileQuery(file_type="other", include_deleted=True),
    FileQuery(file_type="document", tags=("red",), path_prefix="/docs/"),
    FileQuery(created_by="agent-b", tags=("green",), include_deleted=True),
]


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


def build_logs(store: MetadataStore) -> str:
    ws = store.get_or_create_workspace("logger").id
    base = "2024-05-01T10:00:00.000000Z"
    for i in range(40):
        store.append_log(ws, entry(
            op=["create", "read", "update", "delete"][i % 4], rid=f"file_{i % 6:06d}",
            ts=plus_seconds(base, i // 3), agent=["a1", "a2", None][i % 3],
            task=f"t{i % 5}" if i % 2 else None, rtype="memory" if i % 7 == 0 else "file",
            details={"filename": f"photo {i}.png", "n": i, "big": [1, 2.5, "x"]},
            log_id=f"log_{(i * 7919) % 1000:04d}"))
    return ws


LOG_QUERIES = [
    LogQuery(), LogQuery(operation_type="read"), LogQuery(resource_type="memory"),
    LogQuery(resource_id="file_000002"), LogQuery(agent_id="a1"), LogQuery(task_id="t3"),
    LogQuery(operation_type="update", agent_id="a2"),
    LogQuery(since="2024-05-01T10:00:04.000000Z"), LogQuery(until="2024-05-01T10:00:05Z"),
    LogQuery(since="2024-05-01T10:00:02.000000Z", until="2024-05-01T10:00:09.000000Z",
             agent_id="a1", resource_type="file"),
]


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


# -- memory -----------------------------------------------------------------------------
def _append(text: str) -> Callable[[MemoryDoc], MemoryChange]:
    def mutate(current: MemoryDoc) -> MemoryChange:
        return MemoryChange(current.content + text, "append",
                            entry("update", "global_memory", rtype="memory"))
    return mutate


def test_memory_versions_are_trimmed(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    assert store.get_memory(ws) == MemoryDoc()
    for i in range(6):
        doc = store.mutate_memory(ws, _append(f"line {i}\n"), "agent-1", keep_versions=3)
    assert doc.version == 6 and store.get_memory(ws) == doc
    versions = store.list_memory_versions(ws)
    assert [v.version for v in versions] == [6, 5, 4]
    assert versions[0].content == doc.content and versions[0].operation == "append"
    assert store.get_memory_version(ws, 5).content.endswith("line 4\n")
    assert store.get_memory_version(ws, 3) is None
    store.mutate_memory(ws, _append("x"), None, keep_versions=1)
    assert [v.version for v in store.list_memory_versions(ws)] == [7]
    assert store.count_logs(ws) == 7


def test_stale_version_from_the_callback_changes_nothing(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    store.mutate_memory(ws, _append("keep"), "a", keep_versions=5)
    before = (store.get_memory(ws), store.list_memory_versions(ws), store.count_logs(ws),
              store.get_or_create_workspace("alice").updated_at)

    def stale(current: MemoryDoc) -> MemoryChange:
        raise Conflict("memory version is stale", current_version=current.version)

    with pytest.raises(Conflict, match="stale"):
        store.mutate_memory(ws, stale, "a", keep_versions=5)
    after = (store.get_memory(ws), store.list_memory_versions(ws), store.count_logs(ws),
             store.get_or_create_workspace("alice").updated_at)
    assert after == before


def test_memory_appends_from_8_writers(store: FirestoreMetadataStore, fs_env: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """8 threads x 20 appends, each a ``mutate_memory``: every marker survives."""
    ws = store.get_or_create_workspace("alice").id
    stores = [make_store(fs_env) for _ in range(8)]
    started = time.monotonic()
    in_threads(8, lambda t: [stores[t].mutate_memory(ws, _append(f"<m{t}-{i}>\n"), f"w{t}", 20)
                             for i in range(20)])
    elapsed = time.monotonic() - started
    doc = store.get_memory(ws)
    missing = [f"<m{t}-{i}>" for t in range(8) for i in range(20)
               if f"<m{t}-{i}>" not in doc.content]
    assert missing == [] and doc.version == 160
    assert len(store.list_memory_versions(ws)) == 20 and store.count_logs(ws) == 160
    with capsys.disabled():
        print(f"\n[firestore emulator] 8 writers x 20 memory appends: {elapsed:.2f} s "
              f"({160 / elapsed:.0f} appends/s)")
    assert elapsed < 60


# -- maintenance ------------------------------------------------------------------------
def test_purge_queue(store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    first = put(store, ws, "/a.txt")
    put(store, ws, "/a.txt", overwrite=True)
    b = put(store, ws, "/b.txt")
    store.delete_file(ws, b.id, entry("delete"), 0)
    later = plus_seconds(utcnow(), RETENTION + 1)
    due = store.due_purges(later, 100)
    assert sorted(due) == sorted([first.storage_key, b.storage_key])
    assert store.due_purges(utcnow(), 100) == [b.storage_key]
    assert len(store.due_purges(later, 1)) == 1 and store.due_purges(later, 0) == []
    store.mark_purged(due)
    assert store.due_purges(later, 100) == []


def test_purge_intent_is_dropped_when_a_record_claims_the_blob(
        store: FirestoreMetadataStore) -> None:
    ws = store.get_or_create_workspace("alice").id
    soon, far = plus_seconds(utcnow(), 60), plus_seconds(utcnow(), 10**6)
    store.schedule_purge("orphan", soon)
    d = draft("/claimed.txt")
    r = store.reserve_file(ws, d, False)
    store.schedule_purge("claimed", soon)
    assert sorted(store.due_purges(soon, 10)) == ["claimed", "orphan"]
    store.finalize_file(ws, Finalization(d, r, "claimed", "local://claimed", facts()), entry(),
                        RETENTION)
    assert store.due_purges(far, 10) == ["orphan"]


def test_one_user_never_sees_another(store: FirestoreMetadataStore) -> None:
    alice = store.get_or_create_workspace("alice").id
    bob = store.get_or_create_workspace("bob").id
    record = put(store, alice, "/secret.txt", tags=("red",), description="secret plans")
    store.mutate_memory(alice, _append("alice only"), None, 5)
    assert store.get_file(bob, record.id) is None
    assert store.get_file_by_path(bob, "/secret.txt") is None
    assert store.list_files(bob, FileQuery(include_deleted=True)).items == []
    assert store.count_files(bob, FileQuery(tags=("red",))) == 0
    assert store.search_files(bob, "secret", None, 10) == []
    assert store.list_logs(bob, LogQuery()).items == [] and store.count_logs(bob) == 0
    assert store.search_logs(bob, "secret", 10) == []
    assert store.get_memory(bob) == MemoryDoc() and store.list_memory_versions(bob) == []
    with pytest.raises(NotFound):
        store.delete_file(bob, record.id, entry("delete"), RETENTION)
    assert store.get_file(alice, record.id) == record
    assert store.get_file("../workspaces/" + alice, record.id) is None  # ids are not paths


def test_stale_reservations(store: FirestoreMetadataStore) -> None:
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


def test_ping_and_describe(store: FirestoreMetadataStore, fs_env: str) -> None:
    assert store.ping() is True
    assert store.describe() == {"backend": "firestore", "project": PROJECT, "emulator": fs_env}


def test_dead_emulator_gives_backend_unavailable(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    emu = FirestoreEmulator(tmp_path / "dying").start()
    try:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emu.host_port)
        store = make_store(emu.host_port, deadline=2.0)
        ws = store.get_or_create_workspace("alice").id
        put(store, ws, "/a.txt")
        emu.kill()
        calls: list[Callable[[], Any]] = [
            lambda: store.get_or_create_workspace("bob"),
            lambda: store.reserve_file(ws, draft("/b.txt"), False),
            lambda: store.get_file(ws, "file_000001"),
            lambda: store.list_files(ws, FileQuery(tags=("x",))),
            lambda: store.count_logs(ws),
            lambda: store.mutate_memory(ws, _append("x"), None, 5),
            lambda: store.append_log(ws, entry()),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(BackendUnavailable):
                call()
            assert time.monotonic() - started < 15
        assert store.ping() is False
    finally:
        emu.stop()
