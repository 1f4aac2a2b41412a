"""``OutboxRole``: the event outbox, one of the metadata store's roles.

Events are written by the other roles, inside the transaction (SQLite) or batch (Firestore)
of the change they announce; this role only reads and drains them:

- ``list_events``: one workspace's events, oldest first, from a cursor (``GET /events``);
- ``pending_events`` / ``mark_published``: what the publisher has not yet delivered to
  Pub/Sub, oldest first across workspaces, and the acknowledgement once it has;
- ``expire_events``: the sweep drops events past ``EVENT_RETENTION_DAYS``.

The feed's order is the commit order of the changes (SQLite: the outbox's row sequence;
Firestore: the commit timestamp, then the id), so one file's events come in the order its
changes happened on both backends.
"""

from __future__ import annotations

import abc

from shared.events import Event
from shared.models import Page


class OutboxRole(abc.ABC):
    """Reading and draining the outbox."""

    @abc.abstractmethod
    def list_events(self, workspace_id: str, cursor: str | None, limit: int) -> Page[Event]:
        """The workspace's events after ``cursor`` (from the first kept one when None), oldest
        first. ``next_cursor`` is the position after the last event returned (the given
        cursor when there is none), so a poller keeps it and asks again later."""

    @abc.abstractmethod
    def pending_events(self, limit: int) -> list[Event]:
        """Events not yet published, oldest first, from every workspace."""

    @abc.abstractmethod
    def mark_published(self, events: list[Event]) -> None:
        """Record that ``events`` reached the topic (publishing them again is harmless)."""

    @abc.abstractmethod
    def expire_events(self, older_than: str, limit: int) -> int:
        """Delete up to ``limit`` events written before ``older_than``; how many went."""
