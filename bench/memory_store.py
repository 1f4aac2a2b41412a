"""What a memory append costs in the SQLite store as the memory grows, and who checkpoints.

Issue 15's target 2 is the append rate of one client; with one client every millisecond an
append waits is a millisecond of its rate. This study writes appends straight to the store
(``SqliteMetadataStore.mutate_memory``, the text growing by one line of the benchmark's
workload each time) and prints, for each block of appends, the CPU (``process_time``, all
threads) and the wall time per append in two ways:

- ``background``: as served, checkpoints run in ``Checkpointer``'s thread;
- ``in commit``: SQLite's default, the commit that brings the WAL to 1,000 pages runs the
  checkpoint and its ``fsync``s before the request can answer.

Wall time above CPU is waiting (here: for the disk). The two ways run in turns, each on a
fresh database, so a drifting machine shifts both. Run it with ``.venv/bin/python -m
bench.memory_store``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.workload import memory_line
from shared.config import Settings
from shared.metadata.base import new_log_id
from shared.metadata.sqlite import SqliteMetadataStore
from shared.metadata.sqlite.checkpoint import Checkpointer
from shared.models import LogEntry, MemoryChange, MemoryDoc
from shared.timeutil import utcnow

KEEP_VERSIONS = Settings.memory_history  # versions the service keeps (``MEMORY_HISTORY``)


@contextlib.contextmanager
def _checkpoints_in_commit(store: SqliteMetadataStore) -> Iterator[None]:
    """SQLite's default: no background thread, the 1,000-page threshold on the connection."""
    committed = Checkpointer.committed
    Checkpointer.committed = lambda self: None  # type: ignore[method-assign]
    store._conn().execute("PRAGMA wal_autocheckpoint=1000")
    try:
        yield
    finally:
        Checkpointer.committed = committed  # type: ignore[method-assign]


def run(appends: int, block: int, in_commit: bool) -> list[tuple[float, float]]:
    """(CPU ms, wall ms) per append for each block of ``block`` appends."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-store-") as root:
        store = SqliteMetadataStore(Path(root))
        workspace = store.get_or_create_workspace("bench_memory_store").id
        out = []
        with _checkpoints_in_commit(store) if in_commit else contextlib.nullcontext():
            for start in range(0, appends, block):
                cpu, wall = time.process_time(), time.perf_counter()
                for index in range(start, start + block):
                    def mutate(current: MemoryDoc, line: str = memory_line(index)) -> MemoryChange:
                        entry = LogEntry(new_log_id(), utcnow(), "update", "memory",
                                         "global_memory", {}, "bench", None, None)
                        return MemoryChange(current.content + line, "append", entry)
                    store.mutate_memory(workspace, mutate, "bench", KEEP_VERSIONS)
                out.append((1000 * (time.process_time() - cpu) / block,
                            1000 * (time.perf_counter() - wall) / block))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[list[tuple[float, float]]]] = {"background": [], "in commit": []}
    for _ in range(args.rounds):
        for name in results:
            results[name].append(run(args.appends, args.block, name == "in commit"))
    chars = sum(len(memory_line(i)) for i in range(args.appends))
    print(f"{args.appends} appends in blocks of {args.block} (memory grows to {chars:,} "
          f"characters), medians of {args.rounds} rounds: CPU / wall ms per append")
    for name, rounds in results.items():
        cells = [f"{statistics.median(r[b][0] for r in rounds):.2f} / "
                 f"{statistics.median(r[b][1] for r in rounds):.2f}"
                 for b in range(len(rounds[0]))]
        print(f"  {name:<11}" + "  ".join(cells))


if __name__ == "__main__":
    main()
