"""Reading the operation log: ``log_params``, ``export_jsonl`` and ``follow``.

The log is newest first with a cursor for older pages, so "what is new" is asked with
``since``: ``follow`` polls every page at or after the newest timestamp it has seen, less an
``overlap`` window, and drops entries whose id it already yielded. The overlap catches an
entry committed late with an earlier timestamp (two writers racing); the id set makes the
re-read window harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from workspace_client.models import LogEntry, format_time
from workspace_client.paging import fetch_page, iterate
from workspace_client.transport import Transport


def log_params(operation_type: str | None = None, resource_type: str | None = None,
               resource_id: str | None = None, agent_id: str | None = None,
               task_id: str | None = None, since: datetime | str | None = None,
               until: datetime | str | None = None) -> dict[str, Any]:
    """The ``GET /logs`` filters, with datetimes in the API's form."""
    def stamp(value: datetime | str | None) -> str | None:
        return format_time(value) if isinstance(value, datetime) else value

    return {"operation_type": operation_type, "resource_type": resource_type,
            "resource_id": resource_id, "agent_id": agent_id, "task_id": task_id,
            "since": stamp(since), "until": stamp(until)}


def export_jsonl(transport: Transport, filters: dict[str, Any],
                 limit: int | None = None) -> Iterator[LogEntry]:
    """Every matching entry from the JSON Lines export, streamed line by line."""
    params = {**filters, "format": "jsonl", "limit": limit}
    with transport.request("GET", transport.api("/logs"), params=params, stream=True) as answer:
        for line in answer.iter_lines():
            if line.strip():
                yield LogEntry.from_api(json.loads(line))


def follow(transport: Transport, filters: dict[str, Any], *, backlog: int = 0,
           interval: float = 1.0, overlap: float = 5.0,
           stop: Callable[[], bool] | None = None) -> Iterator[LogEntry]:
    """The last ``backlog`` entries, then every new entry as it appears, oldest first.

    Runs until ``stop()`` is true (checked after each poll) or the caller stops iterating.
    """
    first = fetch_page(transport, "/logs", {**filters, "limit": max(backlog, 1)},
                       LogEntry.from_api).items
    seen: dict[str, datetime] = {}
    newest = first[0].timestamp if first else None
    if newest is not None:  # everything in the overlap window exists already: not new
        for entry in _since(transport, filters, newest - timedelta(seconds=overlap)):
            seen[entry.id] = _when(entry)
    for entry in reversed(first[:backlog]):
        seen[entry.id] = _when(entry)
        yield entry
    while stop is None or not stop():
        time.sleep(interval)
        window = newest - timedelta(seconds=overlap) if newest is not None else None
        fresh = [e for e in _since(transport, filters, window) if e.id not in seen]
        fresh.sort(key=lambda e: (_when(e), e.id))
        for entry in fresh:
            seen[entry.id] = _when(entry)
            if newest is None or _when(entry) > newest:
                newest = _when(entry)
            yield entry
        if newest is not None:  # forget what can no longer come back in the window
            horizon = newest - timedelta(seconds=2 * overlap)
            seen = {key: when for key, when in seen.items() if when >= horizon}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _since(transport: Transport, filters: dict[str, Any],
           since: datetime | None) -> Iterator[LogEntry]:
    params = dict(filters)  # the server's default page size
    if since is not None:
        params["since"] = format_time(since)
    return iterate(transport, "/logs", params, LogEntry.from_api)


def _when(entry: LogEntry) -> datetime:
    return entry.timestamp or _EPOCH
