"""Workspace events: ``Event``, built from the state change it announces (``file_event``,
``memory_event``), and its CloudEvents JSON (``Event.to_cloudevent``).

Every state change of a file (``ready``, ``infected``, ``deleted``, ``restored``,
``rescanned``) and every change of the memory (``memory.updated``) is one event, written to
the outbox by the metadata store in the same transaction (SQLite) or batch (Firestore) as
the change itself, so there is no change without its event and no event without its change.
A publisher drains the outbox to Pub/Sub; ``GET /events`` pages through it.

The id is derived from what changed (workspace, subject and the record's revision, or the
memory's version), so the same change always carries the same id: consumers deduplicate
at-least-once deliveries by it. ``data`` holds ids, the version, the checksum and the
verdict, never file content, names, paths or a URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.models import FileRecord

FILE_EVENTS = ("ready", "infected", "deleted", "restored", "rescanned")
EVENT_TYPES = (*(f"workspace.file.{kind}" for kind in FILE_EVENTS), "workspace.memory.updated")
SPECVERSION = "1.0"


@dataclass(frozen=True)
class Event:
    """One event as the outbox keeps it; ``to_cloudevent`` is its wire format."""

    id: str
    type: str
    subject: str
    workspace_id: str
    time: str
    data: dict[str, Any]

    @property
    def ordering_key(self) -> str:
        """Pub/Sub's ordering key: one per file (or memory) of one workspace."""
        return f"{self.workspace_id}/{self.subject}"

    def to_cloudevent(self) -> dict[str, Any]:
        """CloudEvents 1.0, JSON (structured mode); ``workspaceid`` is an extension
        attribute, so subscriptions can filter on it."""
        return {"specversion": SPECVERSION, "id": self.id,
                "source": f"urn:agent-workspace:{self.workspace_id}", "type": self.type,
                "subject": self.subject, "time": self.time,
                "datacontenttype": "application/json", "workspaceid": self.workspace_id,
                "data": self.data}

    def to_row(self) -> dict[str, Any]:
        """The fields a store keeps (``from_row`` reads them back)."""
        return {"id": self.id, "type": self.type, "subject": self.subject,
                "workspace_id": self.workspace_id, "time": self.time, "data": self.data}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        """An event from ``to_row``'s fields."""
        return cls(row["id"], row["type"], row["subject"], row["workspace_id"], row["time"],
                   dict(row["data"]))


def event_id(workspace_id: str, subject: str, revision: int) -> str:
    """The stable id of the change that brought ``subject`` to ``revision``."""
    digest = hashlib.sha256(f"{workspace_id}|{subject}|{revision}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def verdict_of(record: FileRecord) -> str | None:
    """The verdict of the record's live version (its scan record), or its status."""
    if record.scan and record.scan.get("verdict"):
        return str(record.scan["verdict"])
    return "infected" if record.status == "infected" else None


def file_event(kind: str, record: FileRecord, now: str, version: int | None = None,
               checksum: str | None = None) -> Event:
    """The event of a file change that left ``record``; ``version`` and ``checksum`` name
    the bytes the change is about when they are not the record's (an infected upload that
    never became live)."""
    assert kind in FILE_EVENTS, kind
    data = {"workspace_id": record.workspace_id, "file_id": record.id,
            "version": record.version if version is None else version,
            "checksum": checksum or record.checksum or None, "verdict": verdict_of(record)}
    return Event(event_id(record.workspace_id, record.id, record.revision),
                 f"workspace.file.{kind}", record.id, record.workspace_id, now, data)


def memory_event(workspace_id: str, version: int, length: int, operation: str,
                 now: str) -> Event:
    """The event of a memory change (its new version and length, never its text)."""
    return Event(event_id(workspace_id, "memory", version), "workspace.memory.updated",
                 "memory", workspace_id, now,
                 {"workspace_id": workspace_id, "version": version, "length": length,
                  "operation": operation})
