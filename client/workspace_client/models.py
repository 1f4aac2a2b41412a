"""The API's JSON shapes as frozen dataclasses: ``File``, ``FileHit``, ``UploadTicket``,
``DownloadLink``, ``MemoryDocument``, ``MemoryWrite``, ``MemoryVersion``, ``LogEntry``,
``SearchResult``, ``WorkspaceInfo``, ``ApiKey`` and ``CreatedKey``.

Each keeps the answer it was built from in ``raw`` (for ``--json`` output and for fields a
newer server adds), so the client never breaks on an extra field or drops one.
Timestamps are parsed into aware ``datetime`` objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_FRACTION = re.compile(r"\.(\d+)")


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from the API's ISO 8601 text (``...Z``); ``None`` stays ``None``."""
    if not value:
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python 3.9's fromisoformat takes only 0, 3 or 6 fraction digits: pad or cut to 6.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(value: datetime) -> str:
    """The API's timestamp form: UTC with microseconds and a ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class File:
    """A file's metadata (``GET /files/{id}``)."""

    id: str
    filename: str
    path: str
    status: str
    version: int
    size_bytes: int
    mime_type: str = ""
    file_type: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    checksum: str = ""
    created_by: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    is_deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> File:
        """Build from the API's JSON object."""
        return cls(id=data["id"], filename=data.get("filename", ""), path=data.get("path", ""),
                   status=data.get("status", "ready"), version=int(data.get("version") or 1),
                   size_bytes=int(data.get("size_bytes") or 0),
                   mime_type=data.get("mime_type") or "", file_type=data.get("file_type") or "",
                   description=data.get("description") or "", tags=tuple(data.get("tags") or ()),
                   checksum=data.get("checksum") or "", created_by=data.get("created_by"),
                   session_id=data.get("session_id"), metadata=dict(data.get("metadata") or {}),
                   created_at=parse_time(data.get("created_at")),
                   updated_at=parse_time(data.get("updated_at")),
                   is_deleted=bool(data.get("is_deleted")), raw=dict(data))

    @property
    def signature(self) -> str | None:
        """The malware signature of an ``infected`` record (``metadata.scan.signature``)."""
        scan = self.metadata.get("scan")
        return scan.get("signature") if isinstance(scan, dict) else None


@dataclass(frozen=True)
class FileHit:
    """A file search result (the spec's shorter shape)."""

    id: str
    filename: str
    path: str
    description: str = ""
    file_type: str = ""
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FileHit:
        """Build from the API's JSON object."""
        return cls(id=data["id"], filename=data.get("filename", ""), path=data.get("path", ""),
                   description=data.get("description") or "",
                   file_type=data.get("file_type") or "", tags=tuple(data.get("tags") or ()),
                   created_at=parse_time(data.get("created_at")), raw=dict(data))


@dataclass(frozen=True)
class UploadTicket:
    """A reserved direct upload: PUT the bytes to ``upload_url`` with exactly ``headers``."""

    file_id: str
    upload_url: str = field(repr=False)
    method: str
    headers: dict[str, str]
    expires_at: datetime | None
    path: str
    version: int
    status: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> UploadTicket:
        """Build from the API's JSON object."""
        return cls(file_id=data["file_id"], upload_url=data["upload_url"],
                   method=data.get("method", "PUT"), headers=dict(data.get("headers") or {}),
                   expires_at=parse_time(data.get("expires_at")), path=data.get("path", ""),
                   version=int(data.get("version") or 1), status=data.get("status", "pending"),
                   raw=dict(data))


@dataclass(frozen=True)
class DownloadLink:
    """A short-lived link to a file's bytes that needs no token."""

    url: str
    expires_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> DownloadLink:
        """Build from the API's JSON object."""
        return cls(url=data["url"], expires_at=parse_time(data.get("expires_at")), raw=dict(data))


@dataclass(frozen=True)
class MemoryDocument:
    """The global memory (``GET /memory``); version 0 before the first write."""

    content: str
    version: int
    length: int
    max_length: int
    updated_at: datetime | None = None
    updated_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MemoryDocument:
        """Build from the API's JSON object."""
        info = data.get("info") or {}
        content = data.get("content") or ""
        return cls(content=content, version=int(data.get("version") or 0),
                   length=int(info.get("length", len(content))),
                   max_length=int(info.get("max_length") or 0),
                   updated_at=parse_time(data.get("updated_at")),
                   updated_by=data.get("updated_by"), raw=dict(data))


@dataclass(frozen=True)
class MemoryWrite:
    """The memory after a write, append or revert; truncation is always reported."""

    version: int
    length: int
    max_length: int
    truncated: bool = False
    removed_chars: int = 0
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MemoryWrite:
        """Build from the API's JSON object."""
        return cls(version=int(data["version"]), length=int(data.get("length") or 0),
                   max_length=int(data.get("max_length") or 0),
                   truncated=bool(data.get("truncated")),
                   removed_chars=int(data.get("removed_chars") or 0),
                   message=data.get("message"), raw=dict(data))


@dataclass(frozen=True)
class MemoryVersion:
    """One kept memory version; ``content`` is set only when one version was asked for."""

    version: int
    length: int
    operation: str = ""
    created_at: datetime | None = None
    updated_by: str | None = None
    content: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MemoryVersion:
        """Build from the API's JSON object."""
        return cls(version=int(data["version"]), length=int(data.get("length") or 0),
                   operation=data.get("operation") or "",
                   created_at=parse_time(data.get("created_at")),
                   updated_by=data.get("updated_by"), content=data.get("content"),
                   raw=dict(data))


@dataclass(frozen=True)
class LogEntry:
    """One operation-log entry."""

    id: str
    timestamp: datetime | None
    operation_type: str
    resource_type: str
    resource_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    agent_id: str | None = None
    task_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> LogEntry:
        """Build from the API's JSON object."""
        return cls(id=data["id"], timestamp=parse_time(data.get("timestamp")),
                   operation_type=data.get("operation_type", ""),
                   resource_type=data.get("resource_type", ""),
                   resource_id=data.get("resource_id"), details=dict(data.get("details") or {}),
                   agent_id=data.get("agent_id"), task_id=data.get("task_id"), raw=dict(data))


@dataclass(frozen=True)
class MemoryMatch:
    """A memory line that matched a search, with the lines around it."""

    snippet: str
    context: str
    line_number: int


@dataclass(frozen=True)
class SearchResult:
    """``GET /search``: files, memory matches and log entries (only the requested types)."""

    query: str
    files: tuple[FileHit, ...] = ()
    memory: tuple[MemoryMatch, ...] = ()
    logs: tuple[LogEntry, ...] = ()
    summary: dict[str, int] = field(default_factory=dict, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SearchResult:
        """Build from the API's JSON object."""
        results = data.get("results") or {}
        matches = (results.get("memory") or {}).get("matches") or []
        return cls(query=data.get("query", ""),
                   files=tuple(FileHit.from_api(f) for f in results.get("files") or []),
                   memory=tuple(MemoryMatch(m.get("snippet", ""), m.get("context", ""),
                                            int(m.get("line_number") or 0)) for m in matches),
                   logs=tuple(LogEntry.from_api(e) for e in results.get("logs") or []),
                   summary=dict(data.get("summary") or {}), raw=dict(data))


@dataclass(frozen=True)
class WorkspaceInfo:
    """``GET /api/assistant/workspace`` (and ``/summary``, whose statistics land in ``raw``)."""

    workspace_id: str
    file_count: int
    memory_length: int
    log_count: int
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WorkspaceInfo:
        """Build from either shape (the summary nests its counts under ``statistics``)."""
        stats = data.get("statistics") or data
        return cls(workspace_id=data.get("workspace_id", ""),
                   file_count=int(stats.get("file_count") or 0),
                   memory_length=int(stats.get("memory_length") or 0),
                   log_count=int(stats.get("log_count") or 0),
                   created_at=parse_time(data.get("created_at")),
                   updated_at=parse_time(data.get("updated_at")), raw=dict(data))


@dataclass(frozen=True)
class ApiKey:
    """A workspace API key as listed (never with its secret)."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    agent_id: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ApiKey:
        """Build from the API's JSON object."""
        return cls(id=data["id"], name=data.get("name", ""), prefix=data.get("prefix", ""),
                   scopes=tuple(data.get("scopes") or ()), agent_id=data.get("agent_id"),
                   created_at=parse_time(data.get("created_at")),
                   expires_at=parse_time(data.get("expires_at")),
                   last_used_at=parse_time(data.get("last_used_at")), raw=dict(data))


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is the secret, shown this once."""

    key: str = field(repr=False)
    info: ApiKey

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CreatedKey:
        """Build from the API's JSON object."""
        return cls(key=data["key"], info=ApiKey.from_api(data))
