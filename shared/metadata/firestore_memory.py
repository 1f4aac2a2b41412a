"""The global memory on Firestore: ``get``, ``mutate``, ``versions``, ``version``.

The memory is one document, ``workspaces/{ws}/state/memory``; each change also writes
``memory_versions/{v:012d}`` and drops versions older than the last ``keep_versions``. The
memory document remembers the oldest version kept (``oldest``), so trimming deletes known
documents instead of querying for them. A change is one batch (memory, new version,
dropped versions, log entry, workspace ``updated_at``) guarded by the memory document's
update time, retried by ``FirestoreAccess.optimistic`` when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.metadata import firestore_docs as fd
from shared.metadata.firestore_access import FirestoreAccess
from shared.metadata.firestore_query import DESC, Query
from shared.models import MemoryChange, MemoryDoc, MemoryVersion
from shared.timeutil import utcnow

MAX_TRIM = 400  # versions dropped per commit; a later change drops the rest


def _doc(data: dict[str, Any] | None) -> MemoryDoc:
    if data is None:
        return MemoryDoc()
    return MemoryDoc(data["content"], data["version"], data["updated_at"], data["updated_by"])


def _version(data: dict[str, Any]) -> MemoryVersion:
    return MemoryVersion(data["version"], data["content"], data["created_at"],
                         data["updated_by"], data["operation"])


def _version_id(version: int) -> str:
    return f"{version:012d}"  # zero-padded: document order is version order


def get(fs: FirestoreAccess, ws: Any) -> MemoryDoc:
    """The current memory (empty, version 0, before the first write)."""
    return _doc(fs.get(ws.collection("state").document("memory")))


def mutate(fs: FirestoreAccess, ws: Any, change_of: Callable[[MemoryDoc], MemoryChange],
           updated_by: str | None, keep_versions: int) -> MemoryDoc:
    """Apply ``change_of`` to the current memory and commit it with its log entry."""
    ref, versions = ws.collection("state").document("memory"), ws.collection("memory_versions")

    def attempt() -> MemoryDoc:
        snap = fs.snap(ref)
        data = snap.to_dict()
        current = _doc(data)
        change = change_of(current)  # may raise: nothing is written
        now = utcnow()
        doc = MemoryDoc(change.content, current.version + 1, now, updated_by)
        oldest = int((data or {}).get("oldest", 1))
        drop_to = min(doc.version - keep_versions, oldest + MAX_TRIM - 1)
        body = {"content": doc.content, "version": doc.version, "updated_at": now,
                "updated_by": updated_by, "oldest": max(oldest, drop_to + 1)}
        batch = fs.db.batch()
        if data is None:
            batch.create(ref, body)
        else:
            batch.update(ref, body, option=fs.if_unchanged(snap))
        batch.set(versions.document(_version_id(doc.version)), {
            "version": doc.version, "content": doc.content, "created_at": now,
            "updated_by": updated_by, "operation": change.operation})
        for old in range(oldest, drop_to + 1):
            batch.delete(versions.document(_version_id(old)))
        log_ref = fd.log_ref(ws, change.entry)
        batch.create(log_ref, fd.log_doc(change.entry))
        fd.touch(batch, ws, now)
        fs.commit(batch, marker=log_ref)
        return doc

    return fs.optimistic(attempt)


def versions(fs: FirestoreAccess, ws: Any) -> list[MemoryVersion]:
    """Kept versions, newest first."""
    q = Query(ws.collection("memory_versions"), "memory_versions").order_by("version", DESC)
    return [_version(s.to_dict()) for s in fs.stream(q.build())]


def version(fs: FirestoreAccess, ws: Any, number: int) -> MemoryVersion | None:
    """One kept version, or None."""
    data = fs.get(ws.collection("memory_versions").document(_version_id(number)))
    return _version(data) if data else None
