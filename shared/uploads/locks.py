"""``EventLocks``: exactly-once handling of at-least-once events, keyed ``bucket/name#generation``.

A lock is a keyed doc created create-only when a worker starts on an object generation:

- created: this worker owns it, for ``lease_seconds``;
- exists and ``done``: a duplicate or late event; the caller returns without changing anything;
- exists, ``running`` and inside its lease: another delivery is working on it right now; raise
  ``RetryLater`` so this one is redelivered (and finds it done, or the lease expired);
- exists, ``running`` and past its lease: its worker died; take it over (compare-and-swap on
  the doc, so two late workers cannot both take it).

A done lock keeps the outcome and is kept until ``keep_seconds`` (the event max age: after it,
events are dropped as stale anyway), then the sweep deletes it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.errors import RetryLater, WorkspaceError
from shared.metadata.base import Doc, MetadataStore
from shared.timeutil import plus_seconds, utcnow

LOCKS = "scan_locks"  # the kind of the lock documents


class EventLocks:
    """Acquire, finish and release locks on event keys."""

    def __init__(self, meta: MetadataStore, lease_seconds: int, keep_seconds: int) -> None:
        self.meta = meta
        self.lease_seconds = lease_seconds
        self.keep_seconds = keep_seconds

    def _running(self, now: str) -> dict[str, Any]:
        return {"state": "running", "lease_until": plus_seconds(now, self.lease_seconds)}

    def acquire(self, key: str) -> Doc | None:
        """The lock (this worker owns it), None when already done; ``RetryLater`` if held."""
        for _ in range(3):
            now = utcnow()
            due = plus_seconds(now, self.keep_seconds)
            created = self.meta.create_doc(LOCKS, key, self._running(now), "", due)
            if created is not None:
                return created
            existing = self.meta.get_doc(LOCKS, key)
            if existing is None:
                continue  # released between our create and get: try again
            if existing.data.get("state") == "done":
                return None
            if existing.data.get("lease_until", "") > now:
                raise RetryLater("this object is being processed by another delivery")
            taken = self.meta.replace_doc(existing, self._running(now), due)
            if taken is None:
                raise RetryLater("another delivery took over this object first")
            return taken
        raise RetryLater("could not lock the object; try again")

    def done(self, lock: Doc, outcome: dict[str, Any]) -> None:
        """Record the outcome; later deliveries of the same generation change nothing."""
        now = utcnow()
        data = {"state": "done", "finished_at": now, **outcome}
        if self.meta.replace_doc(lock, data, plus_seconds(now, self.keep_seconds)) is None:
            # Our lease ran out and another worker took over; its own result stands.
            raise RetryLater("the lock was taken over before it finished")

    def release(self, lock: Doc) -> None:
        """Give the lock up after a failure, so the redelivery can start at once."""
        with contextlib.suppress(WorkspaceError):
            self.meta.delete_doc(lock)

    def purge(self, limit: int = 500) -> int:
        """Delete locks past ``keep_seconds``; returns how many."""
        removed = 0
        for doc in self.meta.due_docs(LOCKS, utcnow(), limit):
            removed += self.meta.delete_doc(doc)
        return removed
