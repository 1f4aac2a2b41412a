"""``LogService``: reading the operation log, one page at a time or as a JSON Lines export.

Writing happens inside the stores' transactions (every file operation appends its entry in
the same transaction as the change), so this module only reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from shared.context import RequestContext
from shared.metadata.base import MetadataStore
from shared.models import LogEntry, LogQuery, Page

EXPORT_PAGE = 500


class LogService:
    """Queries over one workspace's log."""

    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta

    def list(self, ctx: RequestContext, query: LogQuery) -> Page[LogEntry]:
        """One page, newest first."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        return self.meta.list_logs(ws.id, query)

    def export_jsonl(self, ctx: RequestContext, query: LogQuery,
                     limit: int | None) -> Iterator[bytes]:
        """Every matching entry as JSON Lines, streamed page by page (``limit`` caps it)."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        remaining = limit
        cursor = query.cursor

        def lines() -> Iterator[bytes]:
            nonlocal remaining, cursor
            while remaining is None or remaining > 0:
                size = EXPORT_PAGE if remaining is None else min(EXPORT_PAGE, remaining)
                page = self.meta.list_logs(ws.id, replace(query, limit=size, cursor=cursor))
                for entry in page.items:
                    yield (json.dumps(entry.to_api(), ensure_ascii=False) + "\n").encode()
                if remaining is not None:
                    remaining -= len(page.items)
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor

        return lines()
