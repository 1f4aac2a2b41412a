"""Query latency at a small and a large workspace, against a full scan of the same data.

One workspace is filled over HTTP to the small size, every query of ``workload.QUERIES`` is
timed (median and p99 of sequential calls, after a warm-up), then it is filled on to the
large size and timed again. Two ratios per query: growth (large median / small median; an
index keeps it near 1, a scan grows with the data) and the speed-up against
``fullscan.scan`` on the large workspace, read from the server's own SQLite file in this
process (the issue's "at least 20x faster than a full scan").

The bulk load runs with scanning off: it is what the queries read, not what is measured,
and scanning 50,000 files would take most of the time budget (upload throughput with
scanning on is ``bench.uploads``).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import fullscan
from bench.client import Client, HttpError, summary
from bench.target import Target
from bench.uploads import load
from bench.workload import QUERIES, QuerySpec

USER = "bench_query"


def supported(source: Path, spec: QuerySpec) -> bool:
    """Whether the tree's API has the query (its commit descends from ``spec.since``)."""
    if not spec.since:
        return True
    found = subprocess.run(["git", "-C", str(source), "merge-base", "--is-ancestor",
                            spec.since, "HEAD"], capture_output=True, timeout=30)
    return found.returncode == 0


def _time_query(client: Client, spec: QuerySpec, reps: int) -> dict[str, float]:
    for _ in range(2):  # warm-up: caches, connection, first-call imports
        client.get(spec.path, spec.params)
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        status, _, data = client.get(spec.path, spec.params)
        samples.append(time.perf_counter() - start)
        if status != 200:
            raise HttpError(f"{spec.name}: {status} {data[:200]!r}")
    return summary(samples)


def _time_scan(target: Target, spec: QuerySpec, reps: int) -> dict[str, float]:
    conn = target.database()
    try:
        ws = fullscan.workspace_id(conn, USER)
        samples = []
        for _ in range(reps):
            start = time.perf_counter()
            fullscan.scan(conn, ws, spec)
            samples.append(time.perf_counter() - start)
        return {"median_ms": statistics.median(samples) * 1000, "n": reps}
    finally:
        conn.close()


def measure(workdir: Path, source: Path, sizes: tuple[int, int], reps: int,
            scan_reps: int) -> dict[str, Any]:
    """Per query: median/p99 at both sizes, growth and the speed-up over a full scan."""
    target = Target(workdir / "queries", source, scanning=False).start()
    specs = [s for s in QUERIES if supported(target.source, s)]
    out: dict[str, Any] = {"sizes": list(sizes), "queries": {},
                           "unsupported": [s.name for s in QUERIES if s not in specs]}
    try:
        client = Client(target.url, Target.token(USER))
        loaded = 0
        for size in sizes:
            load_s = load(client, loaded, size)
            out[f"load_{size}_per_s"] = (size - loaded) / load_s
            loaded = size
            for spec in specs:
                row = out["queries"].setdefault(spec.name, {})
                row[str(size)] = _time_query(client, spec, reps)
        large = str(sizes[-1])
        for spec in specs:
            row = out["queries"][spec.name]
            row["fullscan_ms"] = _time_scan(target, spec, scan_reps)["median_ms"]
            row["growth"] = row[large]["median_ms"] / row[str(sizes[0])]["median_ms"]
            row["vs_fullscan"] = row["fullscan_ms"] / row[large]["median_ms"]
        return out
    finally:
        target.stop()
