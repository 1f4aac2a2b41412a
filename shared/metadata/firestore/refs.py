"""``FirestoreBase``: the client, the document references and the writes every role shares.

One subtree per workspace (``workspaces/{ws}/...``, see ``layout``), so every query is scoped
to one user by construction; keyed documents (tickets, locks, the purge queue) live at the
top level as ``{kind}/{key(key)}``. The role mixins (``files``, ``logs``, ``memory``,
``docs``) put their writes in one batch with these helpers, so a change, its log entry,
its purge-queue entry and its event always commit together.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from shared.config import Settings
from shared.events import Event
from shared.metadata.base import PURGE_KIND
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import FirestoreAccess
from shared.metadata.firestore.query import Query
from shared.models import LogEntry

log = logging.getLogger(__name__)


class FirestoreBase:
    """A Firestore client (or the emulator's, when ``FIRESTORE_EMULATOR_HOST`` is set)."""

    def __init__(self, settings: Settings, client: Any | None = None,
                 deadline: float = 10.0) -> None:
        self.project = settings.gcp_project
        self.emulator = (settings.firestore_emulator_host
                         or os.environ.get("FIRESTORE_EMULATOR_HOST", ""))
        self.fs = FirestoreAccess(self.project, client, deadline)
        self.log_retention_days = settings.log_retention_days
        self.event_retention_days = settings.event_retention_days
        self.db = self.fs.db
        if settings.memory_max_length > 200_000:
            log.warning("MEMORY_MAX_LENGTH=%d may exceed Firestore's 1 MiB document limit",
                        settings.memory_max_length)

    def _log_doc(self, entry: LogEntry) -> dict[str, Any]:
        """A log entry's document, with the ``expire_at`` its TTL policy deletes it by."""
        return fd.log_doc(entry, self.log_retention_days)

    def _put_event(self, batch: Any, event: Event) -> None:
        """Write ``event`` to its workspace's outbox in ``batch`` (its id is the change's:
        written again, it is the same event)."""
        ref = self._ws(event.workspace_id).collection("events").document(event.id)
        batch.set(ref, fd.event_doc(event, self.event_retention_days))

    def _ws(self, workspace_id: str) -> Any:
        return self.db.collection("workspaces").document(fd.doc_id(workspace_id))

    def _files(self, workspace_id: str) -> Any:
        return self._ws(workspace_id).collection("files")

    def _log_query(self, workspace_id: str) -> Query:
        return Query(self._ws(workspace_id).collection("logs"), "logs")

    def _keyed(self, kind: str, key: str) -> Any:
        return self.db.collection(kind).document(fd.key(key))

    def _schedule_purge(self, batch: Any, storage_key: str, due_at: str,
                        data: dict[str, Any] | None = None) -> None:
        batch.set(self._keyed(PURGE_KIND, storage_key),
                  fd.keyed_fields(storage_key, data or {}, "", due_at))

    def _drop_purge(self, batch: Any, storage_key: str) -> None:
        batch.delete(self._keyed(PURGE_KIND, storage_key))
