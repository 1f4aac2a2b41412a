"""The benchmark's queries on both metadata backends at one size (issue 15, target 5).

The Firestore emulator and an SQLite file each get the same deterministic workspace
(``workload.file_spec``: N files, each with its ``create`` log entry, written through the
stores' own reserve and finalize), then each query of ``workload.QUERIES`` is timed as the
store call its HTTP route makes (median and p99 of sequential calls after a warm-up). The
HTTP layer is left out on purpose: it is the same code for both, and the question is what
each backend's query costs at that size.

Every query shape the Firestore calls build is recorded (``firestore.query``) and checked
against ``indexes.json``, the file Terraform creates the indexes from: production Firestore
refuses a query without its composite index, the emulator does not, so the run reports any
shape that would be refused (the target: none).

The emulator is a single local Java process that keeps everything in memory, so its
absolute times say little about Cloud Firestore's (network round trips, no local cache);
read the Firestore column as "the queries stay index-served and bounded", not as latency.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.client import summary
from bench.workload import MARKER, QUERIES, file_spec
from shared.errors import BackendUnavailable
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import (
    BlobFacts,
    FileDraft,
    FileQuery,
    Finalization,
    LogEntry,
    LogQuery,
)
from shared.queries import SEARCH_DEFAULT_LIMIT
from shared.timeutil import utcnow

USER = "bench_backends"
PROJECT = "bench-backends"
RETENTION = 3600
LOAD_THREADS = 8
QUERY_BUDGET_S = 15.0  # time spent sampling one query on one backend, at most (3 samples min)

# Each query of ``workload.QUERIES`` as the store call its route makes (defaults included).
CALLS: dict[str, Callable[[MetadataStore, str], Any]] = {
    "files type": lambda s, ws: s.list_files(ws, FileQuery(file_type="image")),
    "files tag": lambda s, ws: s.list_files(ws, FileQuery(tags=("kilo",))),
    "files type+tag": lambda s, ws: s.list_files(ws, FileQuery(file_type="image",
                                                               tags=("kilo",))),
    "files type+tag, page of 40": lambda s, ws: s.list_files(
        ws, FileQuery(file_type="image", tags=("kilo",), limit=40)),
    "files/search": lambda s, ws: s.count_search_files(ws, MARKER, None,
                                                       SEARCH_DEFAULT_LIMIT),
    "logs op": lambda s, ws: s.list_logs(ws, LogQuery(operation_type="create")),
    "logs agent": lambda s, ws: s.list_logs(ws, LogQuery(agent_id="agent_3")),
    "logs op+agent": lambda s, ws: s.list_logs(ws, LogQuery(operation_type="create",
                                                            agent_id="agent_3")),
    "logs none (agent)": lambda s, ws: s.list_logs(ws, LogQuery(agent_id="agent_nobody")),
    "logs none (op+agent)": lambda s, ws: s.list_logs(ws, LogQuery(operation_type="delete",
                                                                   agent_id="agent_3")),
    "logs ?q=": lambda s, ws: s.list_logs(ws, LogQuery(text=MARKER)),
    "combined search": lambda s, ws: (
        s.count_search_files(ws, MARKER, None, SEARCH_DEFAULT_LIMIT),
        s.get_memory(ws), s.count_search_logs(ws, MARKER, SEARCH_DEFAULT_LIMIT)),
}
assert set(CALLS) == {q.name for q in QUERIES}, "every bench query has its store call"


def _put(store: MetadataStore, ws: str, index: int) -> None:
    """File ``index`` of the workload, reserved and finalized as an inline upload is."""
    spec = file_spec(index)
    draft = FileDraft(spec.filename, spec.path, None, spec.description, spec.tags,
                      spec.creator, {})
    reservation = store.reserve_file(ws, draft, False)
    key = f"blobs/{reservation.file_id}/v{reservation.slot}"
    facts = BlobFacts(len(spec.content), f"{index:064x}", "application/octet-stream",
                      spec.kind)
    entry = LogEntry(new_log_id(), utcnow(), "create", "file", reservation.file_id,
                     {"filename": spec.filename, "description": spec.description,
                      "file_type": spec.kind, "path": spec.path},
                     spec.creator, spec.task, None)
    store.finalize_file(ws, Finalization(draft, reservation, key, f"local://{key}", facts),
                        entry, RETENTION)


def load(store: MetadataStore, ws: str, size: int) -> float:
    """Write files 0..size-1 on ``LOAD_THREADS`` threads; the seconds it took."""
    start = time.perf_counter()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        for _ in pool.map(lambda i: _put(store, ws, i), range(size)):
            pass
    return time.perf_counter() - start


def time_calls(store: MetadataStore, ws: str, reps: int,
               budget_s: float = QUERY_BUDGET_S) -> dict[str, dict[str, Any]]:
    """Median and p99 (ms) of each query's store call: ``reps`` samples, or fewer once a
    query has used ``budget_s`` (the emulator answers some in seconds). A call that fails
    (the store's deadline) is reported as such, not allowed to end the run."""
    out: dict[str, dict[str, Any]] = {}
    for name, call in CALLS.items():
        samples: list[float] = []
        spent = 0.0
        try:
            call(store, ws)  # warm-up
            while len(samples) < reps and (spent < budget_s or len(samples) < 3):
                start = time.perf_counter()
                call(store, ws)
                samples.append(time.perf_counter() - start)
                spent += samples[-1]
        except BackendUnavailable as exc:
            out[name] = {"error": f"{exc} ({exc.__cause__ or 'no cause'})"[:300]}
            continue
        out[name] = summary(samples)
    return out


def measure(workdir: Path, size: int, reps: int) -> dict[str, Any]:
    """Both backends at ``size`` files: per query medians, and the unindexed shapes."""
    from localdev.emulators import FirestoreEmulator
    from shared.config import Settings
    from shared.metadata.firestore import FirestoreMetadataStore
    from shared.metadata.firestore import query as fq
    from shared.metadata.sqlite import SqliteMetadataStore

    emulator = FirestoreEmulator(workdir / "firestore").start(timeout=120)
    saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host_port
    try:
        stores: dict[str, MetadataStore] = {
            "sqlite": SqliteMetadataStore(workdir / "sqlite"),
            "firestore": FirestoreMetadataStore(Settings(
                gcp_project=PROJECT, firestore_emulator_host=emulator.host_port)),
        }
        out: dict[str, Any] = {"size": size, "reps": reps}
        for name, store in stores.items():
            ws = store.get_or_create_workspace(USER).id
            seconds = load(store, ws, size)
            out[f"{name}_load_per_s"] = size / seconds
            fq.RECORDED_SHAPES.clear()
            out[name] = time_calls(store, ws, reps)
            if name == "firestore":
                shapes = set(fq.RECORDED_SHAPES)
                out["firestore_shapes"] = len(shapes)
                out["firestore_unindexed"] = [repr(s) for s in fq.missing_indexes(
                    shapes, fq.load_indexes())]
        ratios = [out["firestore"][q]["median_ms"] / out["sqlite"][q]["median_ms"]
                  for q in CALLS if "median_ms" in out["firestore"][q]
                  and "median_ms" in out["sqlite"][q]]
        out["ratio_firestore_vs_sqlite"] = statistics.median(ratios) if ratios else None
        return out
    finally:
        if saved is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved
        emulator.stop()
