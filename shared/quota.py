"""``Quota``: every byte a workspace stores counts against ``WORKSPACE_QUOTA_MB``.

Counted: live files, kept versions (older versions and deleted files, until their retention
ends and the purge deletes them) and direct uploads in flight (the declared size of each
upload ticket). Inline uploads are checked while they stream (a 413 as soon as the running
size passes what is left) and again just before their commit; direct uploads when their URL
is issued. Uploads committing at the same instant can overshoot the quota by at most their
own sizes: the check and the commit are not one transaction on every backend.
"""

from __future__ import annotations

from typing import Any

from shared.errors import PayloadTooLarge
from shared.metadata.base import MetadataStore

TICKETS = "upload_tickets"  # the keyed docs of direct uploads in flight (shared.uploads)
TICKET_SCAN_LIMIT = 1000


class Quota:
    """The quota of every workspace (0 bytes: unlimited)."""

    def __init__(self, meta: MetadataStore, quota_bytes: int) -> None:
        self.meta = meta
        self.quota_bytes = quota_bytes

    def in_flight(self, workspace_id: str) -> int:
        """Declared bytes of direct uploads whose URL was issued and not yet finalized."""
        return sum(int(doc.data.get("size_bytes", 0))
                   for doc in self.meta.scoped_docs(TICKETS, workspace_id, TICKET_SCAN_LIMIT))

    def usage(self, workspace_id: str) -> dict[str, Any]:
        """``GET /usage``: bytes by kind, the quota (null: unlimited) and the file count."""
        stored = self.meta.usage(workspace_id)
        in_flight = self.in_flight(workspace_id)
        used = stored.live_bytes + stored.kept_bytes + in_flight
        return {"live_bytes": stored.live_bytes, "kept_bytes": stored.kept_bytes,
                "in_flight_bytes": in_flight, "used_bytes": used,
                "quota_bytes": self.quota_bytes or None,
                "remaining_bytes": max(0, self.quota_bytes - used) if self.quota_bytes else None,
                "file_count": stored.file_count}

    def remaining(self, workspace_id: str) -> int | None:
        """Bytes that may still be stored; None when unlimited."""
        if not self.quota_bytes:
            return None
        return max(0, self.quota_bytes - self.usage(workspace_id)["used_bytes"])

    def check(self, workspace_id: str, adding: int) -> None:
        """413 unless ``adding`` more bytes fit."""
        remaining = self.remaining(workspace_id)
        if remaining is not None and adding > remaining:
            raise self.exceeded(self.quota_bytes - remaining)

    def exceeded(self, used: int | None = None) -> PayloadTooLarge:
        """The error of a full workspace."""
        extra: dict[str, Any] = {"quota_bytes": self.quota_bytes}
        if used is not None:
            extra["used_bytes"] = used
        return PayloadTooLarge("the workspace quota would be exceeded", **extra)
