"""The composition root builds each process-wide object once, even when first calls race.

CI once answered a 503 ("cannot open metadata database: database is locked") to one of
eight concurrent first uploads: ``functools.cache`` let several threads build their own
SQLite store, each switching a new file to WAL at the same time.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared import factory
from shared.metadata.sqlite.connection import SqliteBase
from shared.metadata.sqlite.schema import DB_NAME

THREADS = 16


def test_racing_first_calls_get_one_store(env: dict[str, str]) -> None:
    built: list[object] = []
    original = factory.metadata_store._build  # type: ignore[attr-defined]

    def counting() -> object:
        built.append(object())
        return original()

    factory.metadata_store._build = counting  # type: ignore[attr-defined]
    try:
        barrier = threading.Barrier(THREADS)

        def first_call(_: int) -> object:
            barrier.wait()
            return factory.metadata_store()

        with ThreadPoolExecutor(THREADS) as pool:
            stores = list(pool.map(first_call, range(THREADS)))
    finally:
        factory.metadata_store._build = original  # type: ignore[attr-defined]
    assert len(built) == 1
    assert all(store is stores[0] for store in stores)


def test_reset_builds_again(env: dict[str, str]) -> None:
    first = factory.metadata_store()
    assert factory.metadata_store() is first
    factory.reset()
    assert factory.metadata_store() is not first


def _quick_busy_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections give up on a lock after 50 ms, as the WAL switch does at once."""
    from shared.metadata.sqlite import connection

    original = sqlite3.connect

    def quick(*args: object, **kwargs: object) -> sqlite3.Connection:
        kwargs["timeout"] = 0.05
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection.sqlite3, "connect", quick)


def test_opening_waits_out_a_locked_database(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holding the lock while a store opens delays it; no 503."""
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    _quick_busy_handler(monkeypatch)
    try:
        SqliteBase(tmp_path)
    finally:
        release.join()
        holder.close()


def test_a_database_that_stays_locked_is_unavailable(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.errors import BackendUnavailable
    from shared.metadata.sqlite import connection

    monkeypatch.setattr(connection, "OPEN_RETRY_SECONDS", 0.2)
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        _quick_busy_handler(monkeypatch)
        with pytest.raises(BackendUnavailable, match="locked"):
            SqliteBase(tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
