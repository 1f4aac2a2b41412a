"""Helpers for metadata-store tests: drafts, facts, entries, a whole upload, shared data sets.

Used by the contract suite (``tests/contract/test_metadata_store.py``), the Firestore parity
tests (``tests/test_firestore_store.py``) and the index drift test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.metadata.base import MetadataStore, new_log_id
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

RETENTION = 3600


def draft(path: str, tags: tuple[str, ...] = (), created_by: str | None = None,
          description: str = "", metadata: dict[str, Any] | None = None) -> FileDraft:
    return FileDraft(path.rsplit("/", 1)[1], path, None, description, tags, created_by,
                     metadata or {})


def facts(file_type: str = "document") -> BlobFacts:
    return BlobFacts(5, "ab" * 32, "text/plain", file_type)


def entry(op: str = "create", rid: str | None = None, ts: str | None = None,
          agent: str | None = None, task: str | None = None, rtype: str = "file",
          details: dict[str, Any] | None = None, log_id: str | None = None,
          session: str | None = None) -> LogEntry:
    return LogEntry(log_id or new_log_id(), ts or utcnow(), op, rtype, rid, details or {},
                    agent, task, session)


def finalize(store: MetadataStore, ws: str, d: FileDraft, r: Any, key: str,
             file_type: str = "document") -> tuple[FileRecord, str | None]:
    """Finalize reservation ``r`` of draft ``d`` with its blob at ``key``."""
    done = Finalization(d, r, key, "local://" + key, facts(file_type))
    return store.finalize_file(ws, done, entry("create" if r.is_new else "update", r.file_id),
                               RETENTION)


def put(store: MetadataStore, ws: str, path: str, file_type: str = "document",
        overwrite: bool = False, **kw: Any) -> FileRecord:
    """Reserve and finalize one upload, as ``InlineUpload`` does."""
    d = draft(path, **kw)
    r = store.reserve_file(ws, d, overwrite)
    return finalize(store, ws, d, r, f"blobs/{r.file_id}/v{r.slot}", file_type)[0]


def append_text(text: str) -> Callable[[MemoryDoc], MemoryChange]:
    """A memory mutation that appends ``text``."""
    def mutate(current: MemoryDoc) -> MemoryChange:
        return MemoryChange(current.content + text, "append",
                            entry("update", "global_memory", rtype="memory"))
    return mutate


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
    FileQuery(), FileQuery(file_type="image"),
    FileQuery(tags=("red",)), FileQuery(tags=("red", "blue")), FileQuery(tags=("nope",)),
    FileQuery(created_by="agent-a"), FileQuery(path_prefix="/docs/"),
    FileQuery(path_prefix="/docs/sub/"), FileQuery(path_prefix="/"),
    FileQuery(path_prefix="/docs"), FileQuery(file_type="other"),
    FileQuery(file_type="document", tags=("red",), path_prefix="/docs/"),
    FileQuery(created_by="agent-b", tags=("green",)),
    FileQuery(deleted=True), FileQuery(deleted=True, tags=("red",)),
    FileQuery(deleted=True, path_prefix="/docs/"),
]


def build_logs(store: MetadataStore) -> str:
    """The same 40 log entries in any store."""
    ws = store.get_or_create_workspace("logger").id
    base = "2024-05-01T10:00:00.000000Z"
    for i in range(40):
        store.append_log(ws, entry(
            op=["create", "read", "update", "delete"][i % 4], rid=f"file_{i % 6:06d}",
            ts=plus_seconds(base, i // 3), agent=["a1", "a2", None][i % 3],
            task=f"t{i % 5}" if i % 2 else None, rtype="memory" if i % 7 == 0 else "file",
            details={"filename": f"photo {i}.png", "n": i, "big": [1, 2.5, "x"]},
            log_id=f"log_{(i * 7919) % 1000:04d}", session=["s1", None, "s2", "s1"][i % 4]))
    return ws


LOG_QUERIES = [
    LogQuery(), LogQuery(operation_type="read"), LogQuery(resource_type="memory"),
    LogQuery(resource_id="file_000002"), LogQuery(agent_id="a1"), LogQuery(task_id="t3"),
    LogQuery(operation_type="update", agent_id="a2"), LogQuery(session_id="s1"),
    LogQuery(session_id="s2", agent_id="a1"), LogQuery(text="photo"),
    LogQuery(text="photo 1", agent_id="a1"),
    LogQuery(text="photo", since="2024-05-01T10:00:04.000000Z"),
    LogQuery(since="2024-05-01T10:00:04.000000Z"), LogQuery(until="2024-05-01T10:00:05Z"),
    LogQuery(since="2024-05-01T10:00:02.000000Z", until="2024-05-01T10:00:09.000000Z",
             agent_id="a1", resource_type="file"),
]
