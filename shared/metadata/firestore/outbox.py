"""``FirestoreOutbox``: the event outbox on Firestore.

Events live at ``workspaces/{ws}/events/{id}``, written by the other roles in the batch of
their change (``FirestoreBase._put_event``). ``committed_at`` is the commit's server
timestamp: two changes of one record commit one after the other (each is preconditioned on
the record as the other left it), so their events are in order; the feed pages by
(``committed_at``, ``id``). ``pending`` marks what the publisher has not delivered yet; a
collection-group query finds it across workspaces. Old events go by the TTL policy on
``expire_at`` (``infra/firestore.tf``), so ``expire_events`` has nothing to do here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc

from shared.cursor import decode_cursor, encode_cursor
from shared.events import Event
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.query import COLLECTION_GROUP, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.models import Page

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH_WRITES = 400


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


class FirestoreOutbox(FirestoreBase):
    """Reading and draining ``workspaces/{ws}/events``."""

    def _event_ref(self, event: Event) -> Any:
        return self._ws(event.workspace_id).collection("events").document(event.id)

    @edge
    def list_events(self, workspace_id: str, cursor: str | None, limit: int) -> Page[Event]:
        after = decode_cursor("events", cursor, 2)
        q = (Query(self._ws(workspace_id).collection("events"), "events")
             .order_by("committed_at").order_by("id"))
        start = ({"committed_at": _EPOCH + timedelta(microseconds=after[0]), "id": after[1]}
                 if after else None)
        rows = [s.to_dict() for s in self.fs.stream(q.build(start, limit))]
        rows = [r for r in rows if r.get("committed_at") is not None]
        if not rows:
            return Page([], cursor or None)
        last = rows[-1]
        return Page([fd.event_of(r) for r in rows],
                    encode_cursor("events", [_micros(last["committed_at"]), last["id"]]))

    @edge
    def pending_events(self, limit: int) -> list[Event]:
        q = (Query(self.db.collection_group("events"), "events", COLLECTION_GROUP)
             .where("pending", "==", True).order_by("committed_at"))
        return [fd.event_of(s.to_dict()) for s in self.fs.stream(q.build(limit=limit))]

    @edge
    def mark_published(self, events: list[Event]) -> None:
        for start in range(0, len(events), BATCH_WRITES):
            chunk = events[start: start + BATCH_WRITES]
            batch = self.db.batch()
            for event in chunk:
                batch.update(self._event_ref(event), {"pending": False})
            try:
                batch.commit(**self.fs.write)
            except gexc.NotFound:  # one expired meanwhile: mark the others one by one
                for event in chunk:
                    try:
                        self._event_ref(event).update({"pending": False}, **self.fs.write)
                    except gexc.NotFound:
                        continue

    def expire_events(self, older_than: str, limit: int) -> int:
        return 0  # the TTL policy on expire_at deletes them
