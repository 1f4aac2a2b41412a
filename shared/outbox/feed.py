"""``EventFeed``: ``GET /events?cursor=``, a workspace's events oldest first.

The same outbox the publisher drains, read per workspace on either backend, so a frontend
or an agent can poll instead of subscribing: it keeps ``next_cursor`` and asks again. The
cursor of an empty page is the one it was given (or none), so polling never skips an event
that commits later.
"""

from __future__ import annotations

from typing import Any

from shared import validation as v
from shared.context import RequestContext
from shared.metadata.base import MetadataStore

FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT = 100, 1000


class EventFeed:
    """The caller's workspace events."""

    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta

    def page(self, ctx: RequestContext, cursor: str | None, limit: str | None) -> dict[str, Any]:
        """One page: ``{"events": [CloudEvent, ...], "next_cursor": str | None}``."""
        count = v.parse_limit(limit, FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT)
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        page = self.meta.list_events(ws.id, cursor or None, count)
        return {"events": [e.to_cloudevent() for e in page.items],
                "next_cursor": page.next_cursor}
