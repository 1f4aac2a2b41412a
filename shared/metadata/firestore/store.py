"""``FirestoreMetadataStore``: the cloud metadata backend (Cloud Firestore, native mode).

It behaves like ``SqliteMetadataStore`` method for method (the contract suite runs on both).
Composed from one mixin per role (``files``, ``edits``, ``folders`` and ``moves``, ``logs``,
``memory``, ``docs``, ``keys``, ``outbox``, ``scans``) over ``refs``; ``layout`` holds the
document layout, ``query`` the queries and their composite indexes, ``access`` the retry and
commit plumbing. This module adds workspaces and health.

Concurrency: every change is one atomic batch with preconditions (optimistic concurrency)
instead of a read-write transaction; a batch that loses a race is re-read and retried after
a jittered pause. Measured on the emulator, read-write transactions on one hot document
deadlock into 10 s lock timeouts (16 racing counter transactions: none committed in 30 s;
8 writers x 20 memory appends: 3 done after 8 minutes), while these batches do the 160
appends in about 2 s.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.config import Settings
from shared.metadata.base import MetadataStore, new_workspace_id
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import Lost, edge
from shared.metadata.firestore.docs import FirestoreDocs
from shared.metadata.firestore.edits import FirestoreFileEdits
from shared.metadata.firestore.files import FirestoreFiles
from shared.metadata.firestore.folders import FirestoreFolders
from shared.metadata.firestore.keys import FirestoreKeys
from shared.metadata.firestore.logs import FirestoreLog
from shared.metadata.firestore.memory import FirestoreMemory
from shared.metadata.firestore.moves import FirestoreMoves
from shared.metadata.firestore.outbox import FirestoreOutbox
from shared.metadata.firestore.scans import FirestoreScans
from shared.metadata.firestore.search import FirestoreSearch
from shared.models import Workspace
from shared.timeutil import utcnow

MAX_WORKSPACE_CACHE = 10_000


class FirestoreMetadataStore(FirestoreMoves, FirestoreFolders, FirestoreFiles, FirestoreFileEdits,
                             FirestoreLog, FirestoreMemory, FirestoreDocs, FirestoreKeys,
                             FirestoreOutbox, FirestoreScans, FirestoreSearch,
                             MetadataStore):
    """Metadata in Cloud Firestore (or its emulator, when ``FIRESTORE_EMULATOR_HOST`` is set)."""

    name = "firestore"

    def __init__(self, settings: Settings, client: Any | None = None,
                 deadline: float = 10.0) -> None:
        super().__init__(settings, client, deadline)
        self._workspace_ids: dict[str, str] = {}  # user -> workspace never changes

    @edge
    def get_or_create_workspace(self, user_id: str) -> Workspace:
        cached = self._workspace_ids.get(user_id)
        ws = self.fs.get(self._ws(cached)) if cached else None
        if ws is None:
            users = self.db.collection("users").document(fd.key(user_id))
            link = self.fs.get(users)
            if link is None:
                ws_id, now = new_workspace_id(), utcnow()
                batch = self.db.batch()
                batch.create(users, {"user_id": user_id, "workspace_id": ws_id, "created_at": now})
                batch.create(self._ws(ws_id), {"user_id": user_id, "created_at": now,
                                               "touched_us": fd.to_us(now)})
                with contextlib.suppress(Lost):  # another request created it first
                    self.fs.commit(batch)
                link = self.fs.get(users) or {}
            cached = link["workspace_id"]
            ws = self.fs.get(self._ws(cached)) or {"created_at": link["created_at"]}
            if len(self._workspace_ids) >= MAX_WORKSPACE_CACHE:
                self._workspace_ids.clear()
            self._workspace_ids[user_id] = cached
        touched = ws.get("touched_us")
        return Workspace(cached, user_id, ws["created_at"],
                         fd.from_us(touched) if touched else ws["created_at"])

    def ping(self) -> bool:
        return self.fs.ping()

    def describe(self) -> dict[str, str]:
        info = {"backend": self.name, "project": self.project}
        if self.emulator:
            info["emulator"] = self.emulator
        return info
