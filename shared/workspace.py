"""``WorkspaceService``: the workspace summaries of ``GET /api/assistant/workspace[/summary]``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.context import RequestContext
from shared.metadata.base import MetadataStore
from shared.models import FileQuery
from shared.quota import Quota


class WorkspaceService:
    """Counts and timestamps for one user's workspace."""

    def __init__(self, meta: MetadataStore, memory_max_length: int,
                 memory_length: Callable[[str], int], quota: Quota,
                 log_retention_days: int = 0) -> None:
        self.meta = meta
        self.memory_max_length = memory_max_length
        self._memory_length = memory_length
        self.quota = quota
        self.log_retention_days = log_retention_days

    def usage(self, ctx: RequestContext) -> dict[str, Any]:
        """``GET /usage``: bytes in live files, kept versions and uploads in flight; quota."""
        return self.quota.usage(self.meta.get_or_create_workspace(ctx.user_id).id)

    def overview(self, ctx: RequestContext) -> dict[str, Any]:
        """The spec's short summary."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        return {
            "workspace_id": ws.id,
            "created_at": ws.created_at,
            "updated_at": ws.updated_at,
            "file_count": self.meta.count_files(ws.id, FileQuery()),
            "memory_length": self._memory_length(ws.id),
            "log_count": self.meta.count_logs(ws.id),
        }

    def summary(self, ctx: RequestContext) -> dict[str, Any]:
        """The spec's detailed summary with statistics."""
        base = self.overview(ctx)
        length = base["memory_length"]
        return {
            "workspace_id": base["workspace_id"],
            "created_at": base["created_at"],
            "updated_at": base["updated_at"],
            "statistics": {
                "file_count": base["file_count"],
                "memory_length": length,
                "memory_max_length": self.memory_max_length,
                "memory_usage_percent": round(100.0 * length / self.memory_max_length, 2),
                "log_count": base["log_count"],
                "oldest_log_at": self.meta.oldest_log(base["workspace_id"]),
                "log_retention_days": self.log_retention_days,
            },
        }
