"""``FirestoreMemory``: the global-memory role on Firestore.

The memory is one document, ``workspaces/{ws}/state/memory``; each change also writes
``memory_versions/{v:012d}`` and drops versions older than the last ``keep_versions``. The
memory document remembers the oldest version kept (``oldest``), so trimming deletes known
documents instead of querying for them. A change is one batch (memory, new version,
dropped versions, log entry, ``memory.updated`` event, workspace ``updated_at``) guarded by
the memory document's update time, retried by ``FirestoreAccess.optimistic`` when another
writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.events import memory_event
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.query import DESC, Query
from shared.metadata.firestore.refs import FirestoreBase
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


class FirestoreMemory(FirestoreBase):
    """The memory document and its kept versions."""

    @edge
    def get_memory(self, workspace_id: str) -> MemoryDoc:
        return _doc(self.fs.get(self._ws(workspace_id).collection("state").document("memory")))

    @edge
    def mutate_memory(self, workspace_id: str, mutate: Callable[[MemoryDoc], MemoryChange],
                      updated_by: str | None, keep_versions: int) -> MemoryDoc:
        ws = self._ws(workspace_id)
        ref, versions = ws.collection("state").document("memory"), ws.collection("memory_versions")
        fs = self.fs

        def attempt() -> MemoryDoc:
            snap = fs.snap(ref)
            data = snap.to_dict()
            current = _doc(data)
            change = mutate(current)  # may raise: nothing is written
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
            batch.create(log_ref, self._log_doc(change.entry))
            self._put_event(batch, memory_event(workspace_id, doc.version, len(doc.content),
                                                change.operation, now))
            fd.touch(batch, ws, now)
            fs.commit(batch, marker=log_ref)
            return doc

        return fs.optimistic(attempt)

    @edge
    def list_memory_versions(self, workspace_id: str) -> list[MemoryVersion]:
        q = Query(self._ws(workspace_id).collection("memory_versions"),
                  "memory_versions").order_by("version", DESC)
        return [_version(s.to_dict()) for s in self.fs.stream(q.build())]

    @edge
    def get_memory_version(self, workspace_id: str, version: int) -> MemoryVersion | None:
        data = self.fs.get(self._ws(workspace_id).collection("memory_versions")
                           .document(_version_id(version)))
        return _version(data) if data else None
