"""``Ticket``: one pending direct upload, persisted as a keyed doc in the metadata store.

A ticket is written when ``POST /files/upload-url`` reserves the record, keyed
``{workspace_id}/{file_id}`` (create-only, so a second signed URL for a file with an upload
in flight is a 409). It carries everything the finalize event needs and cannot get from the
object itself: the draft fields, the reserved version, the declared size and type, the exact
incoming object name, and the agent/task (and API key) to attribute the log entry to. It is
deleted when its upload reaches a terminal state, or by the sweep when it expires unused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shared.metadata.base import Doc
from shared.models import FileDraft, Reservation
from shared.quota import TICKETS  # the quota counts tickets' bytes as in flight

__all__ = ["INCOMING_PREFIX", "TICKETS", "Ticket", "incoming_name", "parse_incoming",
           "ticket_key"]

INCOMING_PREFIX = "incoming/"


def ticket_key(workspace_id: str, file_id: str) -> str:
    """The ticket's key: ``{workspace_id}/{file_id}``."""
    return f"{workspace_id}/{file_id}"


def incoming_name(workspace_id: str, file_id: str, filename: str) -> str:
    """Where the client PUTs: ``incoming/{workspace_id}/{file_id}/{filename}``."""
    return f"{INCOMING_PREFIX}{workspace_id}/{file_id}/{filename}"


def parse_incoming(name: str) -> tuple[str, str] | None:
    """``(workspace_id, file_id)`` from an incoming object name, or None if not one."""
    parts = name.split("/", 3)
    if len(parts) != 4 or parts[0] + "/" != INCOMING_PREFIX or not all(parts[1:]):
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class Ticket:
    """What an upload URL promised: the reservation, the draft and the declared bytes."""

    workspace_id: str
    file_id: str
    number: int
    slot: int
    is_new: bool
    previous_storage_key: str | None
    draft: FileDraft
    overwrite: bool
    size_bytes: int
    mime_type: str
    incoming_name: str
    agent_id: str | None
    task_id: str | None
    created_at: str
    expires_at: str
    expected_version: int | None = None
    session_id: str | None = None
    api_key: str | None = None  # the API key that asked for the URL, for the log entry

    @property
    def key(self) -> str:
        """The doc key."""
        return ticket_key(self.workspace_id, self.file_id)

    def reservation(self) -> Reservation:
        """The reservation ``reserve_file`` made for this upload."""
        return Reservation(self.file_id, self.number, self.slot, self.is_new,
                           self.previous_storage_key)

    def to_data(self) -> dict[str, Any]:
        """The doc's JSON data."""
        data = asdict(self)
        data["draft"]["tags"] = list(self.draft.tags)
        return data

    @classmethod
    def from_doc(cls, doc: Doc) -> Ticket:
        """Back from a stored doc."""
        data = dict(doc.data)
        draft = dict(data.pop("draft"))
        draft["tags"] = tuple(draft["tags"])
        return cls(draft=FileDraft(**draft), **data)
