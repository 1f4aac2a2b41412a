"""``Checkpointer``: the WAL is copied into the database file by a background thread, not by
whichever request's commit crossed SQLite's threshold.

Why: with ``synchronous=NORMAL`` a commit only appends to the WAL; the ``fsync``s happen at
checkpoints, which SQLite by default runs inside the commit that brings the WAL to 1,000
pages. That request then waits for the copy and two ``fsync``s. In the store, a memory
append at 72 KB of memory took 2.1-2.3 ms of wall time for 1.0 ms of CPU, and 1.4-1.8 ms
with the checkpoints in this thread (``python -m bench.memory_store``). The guarantee does
not change: what a commit makes durable is the same, only who waits for the checkpoint does.

The request connections keep a much higher threshold (``BACKSTOP_PAGES``), so the WAL stays
bounded if this thread falls behind (or a reader holds it back); the thread checkpoints
``PASSIVE``ly, never waiting for readers or writers. One thread per database and process,
started by the first commit after an idle spell and ended after ``IDLE_SECONDS`` without
one: a test run that opens thousands of stores does not keep a thread per store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.1  # between checkpoints while commits come in
IDLE_SECONDS = 2.0  # the thread ends after this long without a commit
BACKSTOP_PAGES = 10_000  # ``wal_autocheckpoint`` of the request connections (40 MB of WAL)


class Checkpointer:
    """The background checkpoints of one database file in this process."""

    _instances: dict[str, Checkpointer] = {}
    _registry = threading.Lock()

    def __init__(self, database: Path) -> None:
        self._database = database.resolve()  # absolute: the thread opens it by URI
        self._lock = threading.Lock()
        self._dirty = False
        self._running = False

    @classmethod
    def of(cls, database: Path) -> Checkpointer:
        """The process's checkpointer of ``database``: one per file, whatever opened it."""
        found = cls(database)
        with cls._registry:
            return cls._instances.setdefault(str(found._database), found)

    def committed(self) -> None:
        """A write transaction committed: a checkpoint follows within ``INTERVAL_SECONDS``."""
        with self._lock:
            self._dirty = True
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name=f"checkpoint {self._database}",
                         daemon=True).start()

    @classmethod
    def _forked(cls) -> None:
        """In a forked child (gunicorn forks its workers after the app is built): the
        parents' threads do not exist here and their locks may have been copied held."""
        cls._registry = threading.Lock()
        for found in cls._instances.values():
            found._lock, found._dirty, found._running = threading.Lock(), False, False

    @property
    def running(self) -> bool:
        """Whether the thread is alive (for tests: it must end when writes stop)."""
        return self._running

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        last_commit = time.monotonic()
        try:
            while True:
                time.sleep(INTERVAL_SECONDS)
                with self._lock:
                    dirty, self._dirty = self._dirty, False
                    if not dirty and time.monotonic() - last_commit > IDLE_SECONDS:
                        self._running = False
                        return
                if not dirty:
                    continue
                last_commit = time.monotonic()
                if conn is None:  # ``mode=rw``: a database deleted meanwhile is not made anew
                    conn = sqlite3.connect(f"{self._database.as_uri()}?mode=rw", uri=True,
                                           isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, OSError) as exc:  # requests still work (their backstop), and
            with self._lock:  # the next commit starts a new thread
                self._running = False
            # A database removed with its directory (a test's) is not news; anything else is.
            level = logging.WARNING if self._database.exists() else logging.DEBUG
            log.log(level, "background checkpoint of %s stopped: %s", self._database, exc)
        finally:
            if conn is not None:
                conn.close()


os.register_at_fork(after_in_child=Checkpointer._forked)
