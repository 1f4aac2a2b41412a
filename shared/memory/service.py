"""``MemoryService``: the workspace's global memory (read, write, append, versions, revert).

Every change runs inside the store's ``mutate_memory`` transaction, so appends from many
writers and processes never lose text, and a stale ``If-Match``/``expected_version`` is a
409 decided against the committed version, not a cached one.
"""

from __future__ import annotations

import re
from typing import Any

from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, NotFound
from shared.jsonbody import get_bool, get_int, get_str
from shared.memory import truncation
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import LogEntry, MemoryChange, MemoryDoc
from shared.timeutil import utcnow
from shared.validation import MAX_VERSION

RESOURCE_ID = "global_memory"
WRITE_FIELDS = {"content", "append", "overflow", "expected_version"}


def parse_version(raw: str | None, what: str) -> int | None:
    """``If-Match`` (optionally quoted, ``W/`` ignored) or a path segment as a version."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not re.fullmatch(r"[0-9]{1,12}", text):
        raise BadRequest(f"{what} must be a memory version number")
    return int(text)


class MemoryService:
    """Global memory for one deployment's metadata store."""

    def __init__(self, meta: MetadataStore, max_length: int, keep_versions: int) -> None:
        self.meta = meta
        self.max_length = max_length
        self.keep_versions = keep_versions

    def info(self, length: int) -> dict[str, Any]:
        """The spec's usage block."""
        return {
            "length": length,
            "max_length": self.max_length,
            "usage_percent": round(100.0 * length / self.max_length, 2),
            "is_full": length >= self.max_length,
        }

    def _entry(self, ctx: RequestContext, op: str, details: dict[str, Any]) -> LogEntry:
        return LogEntry(new_log_id(), utcnow(), op, "memory", RESOURCE_ID,
                        ctx.log_details(details), ctx.agent_id, ctx.task_id, ctx.session_id)

    def length(self, workspace_id: str) -> int:
        """Current memory length (for workspace summaries)."""
        return len(self.meta.get_memory(workspace_id).content)

    def read(self, ctx: RequestContext) -> dict[str, Any]:
        """The spec's GET shape plus version and who wrote it last; logged as a read."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        doc = self.meta.get_memory(ws.id)
        self.meta.append_log(ws.id, self._entry(ctx, "read", {
            "length": len(doc.content), "version": doc.version}))
        return self._doc_body(doc)

    def _doc_body(self, doc: MemoryDoc) -> dict[str, Any]:
        return {"content": doc.content, "info": self.info(len(doc.content)),
                "version": doc.version, "updated_at": doc.updated_at,
                "updated_by": doc.updated_by}

    def write(self, ctx: RequestContext, body: dict[str, Any],
              if_match: str | None) -> dict[str, Any]:
        """Write or append under an overflow mode; the spec's response plus version."""
        content = get_str(body, "content", required=True) or ""
        append = get_bool(body, "append", False)
        overflow = get_str(body, "overflow")
        overflow = "truncate" if overflow is None else overflow  # "" is a typo, not a default
        if overflow not in truncation.OVERFLOW_MODES:
            raise BadRequest("overflow must be truncate, reject or drop_oldest")
        header_version = parse_version(if_match, "If-Match")
        body_version = get_int(body, "expected_version", maximum=MAX_VERSION)
        if header_version is not None and body_version is not None and \
                header_version != body_version:
            raise BadRequest("If-Match and expected_version disagree")
        expected = header_version if header_version is not None else body_version
        op = "append" if append else "write"
        return self._mutate(ctx, expected, op, overflow,
                            lambda current: truncation.fit(current, content, append,
                                                            self.max_length, overflow))

    def revert(self, ctx: RequestContext, version: str, if_match: str | None) -> dict[str, Any]:
        """Make an old version current again, as a new version."""
        number = parse_version(version, "version")
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        old = self.meta.get_memory_version(ws.id, number or 0)
        if old is None:
            raise NotFound("memory version not found")
        expected = parse_version(if_match, "If-Match")
        return self._mutate(ctx, expected, "revert", "truncate",
                            lambda _current: truncation.keep_head(old.content, self.max_length),
                            reverted_to=old.version)

    def _mutate(self, ctx: RequestContext, expected: int | None, op: str, overflow: str,
                compute: Any, **extra: Any) -> dict[str, Any]:
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        outcome: dict[str, Any] = {}

        def mutate(current: MemoryDoc) -> MemoryChange:
            if expected is not None and expected != current.version:
                raise Conflict("memory version is stale", current_version=current.version,
                               expected_version=expected)
            fitted = compute(current.content)
            outcome.update(truncated=fitted.truncated, removed_chars=fitted.removed_chars)
            details = {"mode": op, "overflow": overflow, "before_length": len(current.content),
                       "after_length": len(fitted.text), "version": current.version + 1,
                       "truncated": fitted.truncated, "removed_chars": fitted.removed_chars,
                       **extra}
            kind = "create" if current.version == 0 else "update"
            return MemoryChange(fitted.text, op, self._entry(ctx, kind, details))

        doc = self.meta.mutate_memory(ws.id, mutate, ctx.agent_id or ctx.user_id,
                                      self.keep_versions)
        response = {"success": True, **self.info(len(doc.content)),
                    "truncated": outcome["truncated"], "removed_chars": outcome["removed_chars"],
                    "version": doc.version, "updated_at": doc.updated_at}
        if outcome["truncated"]:
            response["message"] = ("Content was truncated to fit within max_length"
                                   if overflow != "drop_oldest" else
                                   "Oldest content was removed to fit within max_length")
        return response

    def versions(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Kept versions, newest first, without their text."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        return [v.to_api(with_content=False) for v in self.meta.list_memory_versions(ws.id)]

    def version(self, ctx: RequestContext, version: str) -> dict[str, Any]:
        """One kept version with its text."""
        number = parse_version(version, "version")
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        found = self.meta.get_memory_version(ws.id, number or 0)
        if found is None:
            raise NotFound("memory version not found")
        self.meta.append_log(ws.id, self._entry(ctx, "read", {
            "length": len(found.content), "version": found.version, "history": True}))
        return found.to_api(with_content=True)
