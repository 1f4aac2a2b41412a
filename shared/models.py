"""Value types: ``Workspace``, ``FileRecord``, ``LogEntry``, the queries and ``Page``.

They are frozen dataclasses so a record read from one backend can be compared with the same
record read from another (the contract suite relies on that). ``to_api`` methods give the JSON
shapes of ``spec/workspace-module.zh.md``; nothing else decides the wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

FILE_TYPES = ("image", "video", "audio", "document", "other")
OPERATION_TYPES = ("create", "read", "update", "delete", "scan")
RESOURCE_TYPES = ("file", "memory", "workspace", "key")
FILE_STATUSES = ("pending", "ready", "infected")


@dataclass(frozen=True)
class Workspace:
    """One user's workspace (exactly one per user, created lazily)."""

    id: str
    user_id: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class FileRecord:
    """A file's metadata; ``storage_key`` locates its bytes in the blob store."""

    id: str
    workspace_id: str
    number: int
    filename: str
    path: str
    session_id: str | None
    description: str
    tags: tuple[str, ...]
    created_by: str | None
    metadata: dict[str, Any]
    storage_key: str
    storage_path: str
    mime_type: str
    file_type: str
    file_extension: str
    size_bytes: int
    checksum: str
    status: str
    version: int
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    revision: int = 0  # bumped by every change to the record (content or metadata)
    scan: dict[str, Any] | None = None  # the live version's scan record (``Verdict.record``)

    @property
    def is_deleted(self) -> bool:
        """Soft-deleted records keep their data but no longer hold their path."""
        return self.deleted_at is not None

    def to_api(self) -> dict[str, Any]:
        """The spec's file JSON plus path, session, checksum, MIME type, status, version."""
        return {
            "id": self.id,
            "filename": self.filename,
            "description": self.description,
            "file_type": self.file_type,
            "file_extension": self.file_extension,
            "file_path": self.storage_path,
            "path": self.path,
            "session_id": self.session_id,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "checksum": self.checksum,
            "checksum_algorithm": "sha256",
            "status": self.status,
            "version": self.version,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "is_deleted": self.is_deleted,
            "deleted_at": self.deleted_at,
            "scan": self.scan,
        }

    def to_search_hit(self) -> dict[str, Any]:
        """The spec's shorter shape for search results, plus what a file list shows next to
        a name (size, type, version, last change), so a client needs no read per hit.
        Search finds ready files only."""
        return {
            "id": self.id,
            "filename": self.filename,
            "description": self.description,
            "file_type": self.file_type,
            "file_path": self.storage_path,
            "path": self.path,
            "tags": list(self.tags),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "size_bytes": self.size_bytes,
            "mime_type": self.mime_type,
            "version": self.version,
        }


@dataclass(frozen=True)
class LogEntry:
    """One operation-log line, as the spec's JSON Lines format defines it."""

    id: str
    timestamp: str
    operation_type: str
    resource_type: str
    resource_id: str | None
    details: dict[str, Any]
    agent_id: str | None
    task_id: str | None
    session_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The spec's log JSON, plus the session the operation ran in (``X-Session-Id``)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "operation_type": self.operation_type,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "details": self.details,
            "agent_id": self.agent_id,
            "task_id": self.task_id,
            "session_id": self.session_id,
        }


@dataclass(frozen=True)
class FileQuery:
    """Filters for listing and counting files; all given filters must match."""

    file_type: str | None = None
    tags: tuple[str, ...] = ()
    created_by: str | None = None
    path_prefix: str | None = None
    limit: int = 100
    cursor: str | None = None
    deleted: bool = False  # the trash: deleted files whose bytes are not purged yet


@dataclass(frozen=True)
class FileEdit:
    """``PATCH /files/{id}``: the fields to change (None: unchanged) and the preconditions.

    An edit changes the record in place: same id, same blob version, a new ``revision``.
    """

    description: str | None = None
    tags: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    if_revision: int | None = None
    expected_version: int | None = None

    def changes(self, record: FileRecord) -> dict[str, dict[str, Any]]:
        """``{field: {"old", "new"}}`` for every field this edit really changes."""
        out: dict[str, dict[str, Any]] = {}
        for name in ("description", "tags", "metadata"):
            new, old = getattr(self, name), getattr(record, name)
            if new is not None and new != old:
                out[name] = {"old": list(old) if name == "tags" else old,
                             "new": list(new) if name == "tags" else new}
        return out


@dataclass(frozen=True)
class LogQuery:
    """Filters for the operation log; newest entries first."""

    operation_type: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    agent_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None
    text: str | None = None  # words every entry must match (``q``), as search matches them
    since: str | None = None
    until: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class Hits(Generic[T]):
    """Ranked search hits (at most the limit), how many matched, and whether that number
    is only a lower bound (more candidates existed than the search looks at)."""

    items: list[T]
    total: int
    total_is_lower_bound: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the opaque cursor of the next (None at the end)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class FileDraft:
    """What an upload asks for, before the store assigns a number or a version."""

    filename: str
    path: str
    session_id: str | None
    description: str
    tags: tuple[str, ...]
    created_by: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class BlobFacts:
    """What the upload pipeline learned from the bytes themselves."""

    size_bytes: int
    checksum: str
    mime_type: str
    file_type: str


@dataclass(frozen=True)
class Reservation:
    """A path and file id held for an upload in progress (``status: pending``).

    ``slot`` is unique per upload of the file (it names the blob's key); the version the
    upload becomes is assigned when it is finalized, in commit order (see ``finalize_file``).
    """

    file_id: str
    number: int
    slot: int
    is_new: bool
    previous_storage_key: str | None


@dataclass(frozen=True)
class Finalization:
    """What finalizing a reservation writes: the draft, where its bytes are, what they are.

    ``expected_version``: the live version the writer saw; another one makes it a 409.
    """

    draft: FileDraft
    reservation: Reservation
    storage_key: str
    storage_path: str
    facts: BlobFacts
    expected_version: int | None = None
    scan: dict[str, Any] | None = None  # the verdict's scan record, stored with the version


@dataclass(frozen=True)
class FileVersion:
    """One acknowledged version of a file: its bytes are readable until retention ends.

    ``superseded_at`` is when it stopped being live (a newer version, or the file's delete);
    ``purged`` once the purge deleted its bytes.
    """

    file_id: str
    version: int
    storage_key: str
    storage_path: str
    size_bytes: int
    checksum: str
    mime_type: str
    created_at: str
    created_by: str | None
    superseded_at: str | None = None
    purged: bool = False
    scan: dict[str, Any] | None = None  # its scan record (the latest, after rescans)

    def to_api(self, live: bool, kept_until: str | None) -> dict[str, Any]:
        """The version listing's JSON."""
        return {"version": self.version, "size_bytes": self.size_bytes,
                "checksum": self.checksum, "checksum_algorithm": "sha256",
                "mime_type": self.mime_type, "created_at": self.created_at,
                "created_by": self.created_by, "live": live,
                "superseded_at": self.superseded_at, "kept_until": kept_until,
                "available": not self.purged, "scan": self.scan}


@dataclass(frozen=True)
class Usage:
    """Bytes a workspace stores: live files, kept versions (older ones and deleted files'
    until retention ends); the service adds uploads in flight."""

    live_bytes: int = 0
    kept_bytes: int = 0
    file_count: int = 0


@dataclass(frozen=True)
class ObjectRef:
    """One generation of an object in a bucket: what a finalize event names and a scan reads."""

    bucket: str
    name: str
    generation: int

    @property
    def id(self) -> str:
        """``bucket/name#generation``: the idempotency key of at-least-once events."""
        return f"{self.bucket}/{self.name}#{self.generation}"


@dataclass(frozen=True)
class MemoryDoc:
    """The workspace's global memory: Markdown text and its optimistic-concurrency version."""

    content: str = ""
    version: int = 0
    updated_at: str | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class MemoryVersion:
    """One kept version of the memory (the last N are kept)."""

    version: int
    content: str
    created_at: str
    updated_by: str | None
    operation: str

    def to_api(self, with_content: bool) -> dict[str, Any]:
        """Version metadata, and the text when asked for one version."""
        body: dict[str, Any] = {"version": self.version, "length": len(self.content),
                                "created_at": self.created_at, "updated_by": self.updated_by,
                                "operation": self.operation}
        if with_content:
            body["content"] = self.content
        return body


@dataclass(frozen=True)
class MemoryChange:
    """What a memory mutation wants stored, with the log entry that records it."""

    content: str
    operation: str
    entry: LogEntry


@dataclass(frozen=True)
class ApiKey:
    """A workspace API key as stored: never the secret, only its SHA-256 (``secret_hash``).

    ``id`` is ``key_<public>`` and the key itself starts with ``wsk_<public>`` (its prefix),
    so a presented key names the record to check it against.
    """

    id: str
    workspace_id: str
    user_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    agent_id: str | None
    created_at: str
    expires_at: str | None = None
    last_used_at: str | None = None

    @property
    def prefix(self) -> str:
        """The key's first characters: a public handle to tell keys apart."""
        return "wsk_" + self.id.removeprefix("key_")

    def to_api(self) -> dict[str, Any]:
        """The listing's JSON (``POST /keys`` adds the secret ``key`` once)."""
        return {"id": self.id, "prefix": self.prefix, "name": self.name,
                "scopes": list(self.scopes), "agent_id": self.agent_id,
                "created_at": self.created_at, "expires_at": self.expires_at,
                "last_used_at": self.last_used_at}


@dataclass(frozen=True)
class Bucket:
    """A key's rate-limit token bucket: ``tokens`` left at ``at`` (epoch seconds)."""

    tokens: float
    at: float
