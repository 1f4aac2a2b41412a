"""``Page`` and ``pages``: the API's paged lists (a bare JSON array plus ``X-Next-Cursor``).

``GET /files`` and ``GET /logs`` answer one page at a time; the next page's cursor is in the
``X-Next-Cursor`` header, absent on the last page. ``iterate`` walks every page lazily, so a
``for`` loop over a large workspace holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from workspace_client.transport import Params, Transport

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next (``None`` on the last page)."""

    items: list[T]
    next_cursor: str | None


def fetch_page(transport: Transport, path: str, params: Params,
               build: Callable[[dict[str, Any]], T]) -> Page[T]:
    """One page of ``path`` with ``params`` (``cursor`` and ``limit`` included)."""
    answer = transport.request("GET", transport.api(path), params=params)
    return Page([build(item) for item in answer.json()],
                answer.headers.get("X-Next-Cursor") or None)


def iterate(transport: Transport, path: str, params: Params,
            build: Callable[[dict[str, Any]], T], limit: int | None = None) -> Iterator[T]:
    """Every item over every page, at most ``limit`` of them."""
    cursor: str | None = None
    count = 0
    while True:
        page = fetch_page(transport, path, {**params, "cursor": cursor}, build)
        for item in page.items:
            if limit is not None and count >= limit:
                return
            count += 1
            yield item
        if not page.next_cursor or (limit is not None and count >= limit):
            return
        cursor = page.next_cursor
