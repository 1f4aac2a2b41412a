"""``SqliteOutbox``: the event outbox on SQLite.

Events are rows of ``events``, inserted by the other roles inside their transactions
(``SqliteBase._insert_event``); ``seq`` (AUTOINCREMENT, assigned at commit under the write
lock) is the feed's order and its cursor.
"""

from __future__ import annotations

import json
import sqlite3

from shared.cursor import decode_cursor, encode_cursor
from shared.events import Event
from shared.metadata.sqlite.connection import SqliteBase
from shared.models import Page


def _event(row: sqlite3.Row) -> Event:
    return Event(row["id"], row["type"], row["subject"], row["workspace_id"], row["time"],
                 json.loads(row["data"]))


class SqliteOutbox(SqliteBase):
    """Reading and draining ``events``."""

    def list_events(self, workspace_id: str, cursor: str | None, limit: int) -> Page[Event]:
        after = decode_cursor("events", cursor, 1)
        rows = self._read("SELECT * FROM events WHERE workspace_id = ? AND seq > ?"
                          " ORDER BY seq LIMIT ?", (workspace_id, after[0] if after else 0,
                                                    limit))
        if not rows:
            return Page([], cursor or None)
        return Page([_event(r) for r in rows], encode_cursor("events", [rows[-1]["seq"]]))

    def pending_events(self, limit: int) -> list[Event]:
        rows = self._read("SELECT * FROM events WHERE published = 0 ORDER BY seq LIMIT ?",
                          (limit,))
        return [_event(r) for r in rows]

    def mark_published(self, events: list[Event]) -> None:
        if not events:
            return
        with self._write() as conn:
            conn.executemany("UPDATE events SET published = 1 WHERE id = ?",
                             [(e.id,) for e in events])

    def expire_events(self, older_than: str, limit: int) -> int:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events"
                               " WHERE time < ? ORDER BY time LIMIT ?)", (older_than, limit))
            return cur.rowcount
