"""``EventPublisher``: drain the outbox to a topic, at least once, in order per file.

A drain takes the pending events oldest first (``pending_events``), publishes them
(``EventSink``: Pub/Sub, with the ordering key ``{workspace}/{file}``, so one file's events
arrive in the order they happened), and only once the topic has acknowledged them marks them
published. A publisher killed between the two leaves them pending: the next one publishes
them again, with the same event ids, and consumers deduplicate by id. Nothing is lost.

One publisher drains at a time: a lease (a keyed doc, ``publisher/events``) is taken
create-only, renewed after each batch, and taken over once it expires (its holder died).
A publisher that finds it held returns at once: the holder is draining.
"""

from __future__ import annotations

import abc
import logging
import time
import uuid
from typing import Any

from shared.events import Event
from shared.metadata.base import Doc, MetadataStore
from shared.timeutil import plus_seconds, utcnow

log = logging.getLogger(__name__)

LEASES, OUTBOX_LEASE = "publisher", "events"


class EventSink(abc.ABC):
    """Where events go (Pub/Sub in the cloud and under ``make dev``)."""

    @abc.abstractmethod
    def publish(self, events: list[Event]) -> None:
        """Deliver ``events`` in order per ordering key; return once every one is
        acknowledged, raise (nothing is marked published) otherwise."""


class EventPublisher:
    """Drains one deployment's outbox into one sink."""

    def __init__(self, meta: MetadataStore, sink: EventSink, lease_seconds: int,
                 batch: int = 100) -> None:
        self.meta, self.sink = meta, sink
        self.lease_seconds, self.batch = lease_seconds, batch
        self.holder = uuid.uuid4().hex

    def _lease(self) -> dict[str, Any]:
        return {"holder": self.holder, "until": plus_seconds(utcnow(), self.lease_seconds)}

    def acquire(self) -> Doc | None:
        """The lease, or None while another publisher holds it."""
        created = self.meta.create_doc(LEASES, OUTBOX_LEASE, self._lease(), "", utcnow())
        if created is not None:
            return created
        held = self.meta.get_doc(LEASES, OUTBOX_LEASE)
        if held is None:
            return self.meta.create_doc(LEASES, OUTBOX_LEASE, self._lease(), "", utcnow())
        if held.data.get("until", "") > utcnow():
            return None
        return self.meta.replace_doc(held, self._lease(), utcnow())  # its holder died

    def drain(self, max_seconds: float = 60.0, idle_seconds: float = 0.0) -> dict[str, Any]:
        """Publish what is pending until none is left (or, with ``idle_seconds``, until
        nothing came for that long) or ``max_seconds`` passed; what was done."""
        lease = self.acquire()
        if lease is None:
            return {"published": 0, "status": "another publisher is draining"}
        published, stop_at = 0, time.monotonic() + max_seconds
        idle_until = time.monotonic() + idle_seconds
        try:
            while time.monotonic() < stop_at:
                events = self.meta.pending_events(self.batch)
                if not events:
                    if time.monotonic() >= idle_until:
                        break
                    time.sleep(0.2)
                    continue
                self.sink.publish(events)
                self.meta.mark_published(events)
                published += len(events)
                idle_until = time.monotonic() + idle_seconds
                renewed = self.meta.replace_doc(lease, self._lease(), utcnow())
                if renewed is None:
                    return {"published": published, "status": "lease lost"}
                lease = renewed
        finally:
            self.meta.delete_doc(lease)
        return {"published": published, "status": "drained",
                "pending": len(self.meta.pending_events(self.batch))}
