"""Checkpoints of the embedded store run in a background thread, not in a request's commit.

What is measured is the database file itself: until a checkpoint copies the WAL into it, the
file keeps its size, whatever was committed. ``bench/RESULTS.md`` has the timings that made
the change worth it; these tests hold the behaviour (who checkpoints, and that the thread
goes away), not a speed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.metadata.base import new_log_id
from shared.metadata.sqlite import checkpoint
from shared.metadata.sqlite.store import SqliteMetadataStore
from shared.models import LogEntry, MemoryChange, MemoryDoc
from shared.timeutil import utcnow

TEXT = "x" * 200_000  # about 50 pages of 4 KiB, written twice (the memory and its version)


def _write(store: SqliteMetadataStore, workspace_id: str, times: int) -> None:
    for n in range(times):
        def mutate(current: MemoryDoc, n: int = n) -> MemoryChange:
            entry = LogEntry(new_log_id(), utcnow(), "update", "memory", "global_memory", {},
                             "agent", None, None)
            return MemoryChange(f"{n}{TEXT}", "write", entry)
        store.mutate_memory(workspace_id, mutate, "agent", 50)


def _grows(path: Path, beyond: int, seconds: float = 10.0) -> bool:
    """Whether ``path`` grows past ``beyond`` bytes within ``seconds`` (a checkpoint ran)."""
    deadline = time.monotonic() + seconds
    while path.stat().st_size <= beyond and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.stat().st_size > beyond


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("checkpoint ")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteMetadataStore]:
    yield SqliteMetadataStore(tmp_path)


def test_a_commit_never_runs_the_checkpoint(store: SqliteMetadataStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 pages committed (twice SQLite's default threshold of 1,000) with the background
    thread held back: the database file has not grown, so no request copied the WAL."""
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 60.0)
    workspace = store.get_or_create_workspace("u").id
    before = store.path.stat().st_size
    _write(store, workspace, 20)
    wal = store.path.with_name(store.path.name + "-wal")
    assert wal.stat().st_size > 1_000 * 4096  # the WAL holds it all, never restarted
    assert store.path.stat().st_size == before


def test_the_background_thread_checkpoints_without_another_commit(
        store: SqliteMetadataStore) -> None:
    workspace = store.get_or_create_workspace("u").id
    _write(store, workspace, 20)
    assert _grows(store.path, store.path.stat().st_size + 100 * 4096)  # the pages got there


def test_the_thread_ends_when_writes_stop_and_comes_back(store: SqliteMetadataStore,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A test run opens thousands of stores: an idle database keeps no thread."""
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.02)
    monkeypatch.setattr(checkpoint, "IDLE_SECONDS", 0.2)
    mine = f"checkpoint {store.path}"
    workspace = store.get_or_create_workspace("u").id
    checkpointer = checkpoint.Checkpointer.of(store.path)
    for _ in range(2):
        _write(store, workspace, 1)
        assert checkpointer.running
        assert any(t.name == mine for t in _checkpoint_threads())
        deadline = time.monotonic() + 10
        while checkpointer.running and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not checkpointer.running


@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_vanished_database_stops_the_thread_and_is_not_made_anew(
        store: SqliteMetadataStore, where: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A test's store deleted with its directory while the thread waits: the thread ends
    quietly (debug, not a warning in some later test's log) and creates no file, which
    would make the directory's removal fail."""
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.2)
    caplog.set_level(logging.DEBUG, logger=checkpoint.__name__)
    workspace = store.get_or_create_workspace("u").id
    _write(store, workspace, 1)
    checkpointer = checkpoint.Checkpointer.of(store.path)
    directory = store.path.parent
    for path in list(directory.iterdir()):
        path.unlink()
    if where == "directory":
        directory.rmdir()
    deadline = time.monotonic() + 10
    while checkpointer.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not checkpointer.running
    assert not directory.exists() if where == "directory" else not any(directory.iterdir())
    stopped = [r for r in caplog.records if "background checkpoint" in r.getMessage()]
    assert [r.levelno for r in stopped] == [logging.DEBUG]


def test_a_forked_worker_checkpoints_its_own_writes(store: SqliteMetadataStore) -> None:
    """gunicorn forks its workers after the app, and so the store, is built: the parent's
    thread, running at the fork, does not exist in the child, which must start its own."""
    workspace = store.get_or_create_workspace("u").id
    before = store.path.stat().st_size
    _write(store, workspace, 1)
    assert _grows(store.path, before)  # the parent's own checkpoint is done,
    assert checkpoint.Checkpointer.of(store.path).running  # and its thread still runs
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its writes reach the file by themselves
        code = 1
        try:  # its own store and connections, as a worker's factory builds them
            worker = SqliteMetadataStore(store.path.parent)
            size = store.path.stat().st_size
            _write(worker, workspace, 20)
            code = 0 if _grows(store.path, size + 100 * 4096) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
