"""Firestore document layout: ``new_file_doc``, ``record``, ``log_doc``, ``file_list_query``.

Layout (one subtree per workspace, so every query is scoped to one user by construction)::

    users/{key(user_id)}                      -> workspace_id (created once, with create())
    workspaces/{ws}                           user_id, created_at, touched_us
    workspaces/{ws}/state/file_seq            n: the last file number handed out
    workspaces/{ws}/state/memory              content, version, updated_at, updated_by, oldest
    workspaces/{ws}/memory_versions/{v:012d}  one kept version
    workspaces/{ws}/paths/{key(path)}         file_id: exists only while a live file holds it,
                                              or a folder move holds it for one (op, from)
    workspaces/{ws}/files/{file_id}           the record, plus live/searchable/facets/tokens
    workspaces/{ws}/versions/{id}_{v:012d}    one version of a file (kept: superseded, unpurged)
    workspaces/{ws}/logs/{id}                 one log entry, plus facets/tokens
    workspaces/{ws}/events/{id}               one outbox event: pending, committed_at, expire_at
    {kind}/{key(key)}                         a keyed doc: key, data_json, scope, due_at
                                              (upload_tickets, scan_locks, purge_queue,
                                              folder_moves, folder_move_locks)
    api_keys/{key_id}                         an API key (its SHA-256, never the secret)
    api_key_buckets/{key_id}                  its rate-limit bucket: tokens, at

JSON-valued fields (``metadata``, ``details``) are stored as JSON text, as SQLite stores
them, so they round-trip exactly (Firestore maps reject nested arrays and reorder keys).
``facets`` holds every equality filter a list query can ask for as ``kind:value`` strings,
so one ``array_contains`` plus one composite index serves any of them; the remaining
filters are checked in Python against the same facets.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared import text_index
from shared.events import Event
from shared.metadata.firestore.query import DESC, Query
from shared.metadata.ranking import log_search_text
from shared.metadata.scans import scan_db, scan_time
from shared.models import (
    BlobFacts,
    FileDraft,
    FileQuery,
    FileRecord,
    FileVersion,
    Finalization,
    LogEntry,
    LogQuery,
)
from shared.timeutil import format_ts, parse_ts

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,255}")
# Log filters, most selective first: the first one given is the one Firestore applies.
_LOG_FACETS = (("resource_id", "i"), ("task_id", "k"), ("session_id", "s"), ("agent_id", "a"),
               ("operation_type", "o"), ("resource_type", "r"))


def key(value: str) -> str:
    """A document id for any string (paths, user ids, storage keys)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def doc_id(value: str) -> str:
    """``value`` itself when it is a safe document id, else a key that no real id can be."""
    return value if _SAFE_ID.fullmatch(value) else "x_" + key(value)


def to_us(ts: str) -> int:
    """A stored timestamp as integer microseconds (for the ``Maximum`` transform)."""
    delta = parse_ts(ts) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(micros: int) -> str:
    """Integer microseconds back into a stored timestamp."""
    return format_ts(datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000))


def touch(batch: Any, ws: Any, now: str) -> None:
    """Move the workspace's ``updated_at`` forward only, without a read (no contention)."""
    batch.set(ws, {"touched_us": firestore.Maximum(to_us(now))}, merge=True)


def log_ref(ws: Any, entry: LogEntry) -> Any:
    """Where a log entry's document lives."""
    return ws.collection("logs").document(doc_id(entry.id))


def keyed_fields(key_: str, data: dict[str, Any], scope: str, due_at: str) -> dict[str, Any]:
    """A keyed doc's fields (``{kind}/{key(key)}``): what ``DocRole`` reads back."""
    return {"key": key_, "data_json": json.dumps(data), "scope": scope, "due_at": due_at}


# -- files ------------------------------------------------------------------------------
def folder_facet(prefix: str) -> str:
    """The facet of one folder (a prefix ending in '/'), hashed to stay small."""
    return "d:" + key(prefix)[:32]


def folder_facets(path: str) -> list[str]:
    """The facets of every folder enclosing ``path`` (the root aside)."""
    out = []
    cut = path.find("/", 1)
    while cut != -1:
        out.append(folder_facet(path[: cut + 1]))
        cut = path.find("/", cut + 1)
    return out


def file_facets(file_type: str, created_by: str | None, tags: tuple[str, ...] | list[str],
                path: str) -> list[str]:
    """Facets of a record: its type, creator, indexed tags and every enclosing folder."""
    out = [f"y:{file_type}"] + ([f"c:{created_by}"] if created_by else [])
    out += [f"t:{tag}" for tag in tags]
    return out + folder_facets(path)


def query_facets(query: FileQuery) -> list[str]:
    """The facets a list query requires, most selective first."""
    out = [f"t:{tag}" for tag in query.tags]
    if query.created_by:
        out.append(f"c:{query.created_by}")
    if query.path_prefix and query.path_prefix != "/" and query.path_prefix.endswith("/"):
        out.append(folder_facet(query.path_prefix))
    if query.file_type:
        out.append(f"y:{query.file_type}")
    return out


def in_prefix(path: str, prefix: str | None) -> bool:
    """SQLite's folder filter, ``lo <= path < hi``, evaluated the same way."""
    if not prefix or prefix == "/":
        return True
    return prefix <= path < prefix[:-1] + "0"


def new_file_doc(workspace_id: str, file_id: str, number: int, draft: FileDraft,
                 now: str) -> dict[str, Any]:
    """A pending reservation: tags are not indexed (nor searchable) until finalized."""
    return {
        "id": file_id, "workspace_id": workspace_id, "number": number,
        "filename": draft.filename, "path": draft.path, "session_id": draft.session_id,
        "description": draft.description, "tags": list(draft.tags),
        "created_by": draft.created_by, "metadata_json": json.dumps(draft.metadata),
        "storage_key": "", "storage_path": "", "mime_type": "", "file_type": "other",
        "file_extension": "", "size_bytes": 0, "checksum": "", "status": "pending",
        "version": 0, "reserved_version": 1, "revision": 0, "created_at": now,
        "updated_at": now,
        "deleted_at": None, "live": True, "searchable": False,
        "facets": file_facets("other", draft.created_by, (), draft.path), "tokens": [],
    }


def scan_fields(scan: dict[str, Any] | None) -> dict[str, Any]:
    """A record's scan record and the two fields the rescan query filters and orders by."""
    return {"scan_json": json.dumps(scan) if scan else None, "scan_db": scan_db(scan),
            "scanned_at": scan_time(scan)}


def finalized_fields(draft: FileDraft, version: int, storage_key: str, storage_path: str,
                     facts: BlobFacts, extension: str, path: str, now: str,
                     scan: dict[str, Any] | None = None) -> dict[str, Any]:
    """What finalizing a reservation changes."""
    return {**scan_fields(scan),
        "filename": draft.filename, "description": draft.description,
        "tags": list(draft.tags), "created_by": draft.created_by,
        "metadata_json": json.dumps(draft.metadata), "storage_key": storage_key,
        "storage_path": storage_path, "mime_type": facts.mime_type,
        "file_type": facts.file_type, "file_extension": extension,
        "size_bytes": facts.size_bytes, "checksum": facts.checksum, "status": "ready",
        "version": version, "updated_at": now, "searchable": True,
        "facets": file_facets(facts.file_type, draft.created_by, draft.tags, path),
        "tokens": text_index.index_tokens([draft.filename, draft.description, *draft.tags]),
    }


def revision_of(data: dict[str, Any]) -> int:
    """A file document's revision (documents written before revisions: their version)."""
    return int(data.get("revision", data["version"]))


def record(data: dict[str, Any]) -> FileRecord:
    """A file document as a ``FileRecord``."""
    return FileRecord(
        id=data["id"], workspace_id=data["workspace_id"], number=data["number"],
        filename=data["filename"], path=data["path"], session_id=data["session_id"],
        description=data["description"], tags=tuple(data["tags"]),
        created_by=data["created_by"], metadata=json.loads(data["metadata_json"]),
        storage_key=data["storage_key"], storage_path=data["storage_path"],
        mime_type=data["mime_type"], file_type=data["file_type"],
        file_extension=data["file_extension"], size_bytes=data["size_bytes"],
        checksum=data["checksum"], status=data["status"], version=data["version"],
        created_at=data["created_at"], updated_at=data["updated_at"],
        deleted_at=data["deleted_at"], revision=revision_of(data),
        scan=json.loads(data["scan_json"]) if data.get("scan_json") else None,
    )


def search_match(data: dict[str, Any], qwords: list[str], file_type: str | None) -> bool:
    """The search rule on a candidate document (Firestore matched one query word only)."""
    if file_type and data["file_type"] != file_type:
        return False
    return text_index.matches(qwords, [data["filename"], data["description"], *data["tags"]])


def query_token(qwords: list[str]) -> str:
    """The stored token that every match of the longest query word carries."""
    return max(qwords, key=len)[: text_index.PREFIX_MAX]


def version_ref(ws: Any, file_id: str, version: int) -> Any:
    """Where one version of a file is recorded."""
    return ws.collection("versions").document(f"{doc_id(file_id)}_{version:012d}")


def version_doc(done: Finalization, version: int, now: str) -> dict[str, Any]:
    """A new live version's document."""
    return {"file_id": done.reservation.file_id, "version": version,
            "storage_key": done.storage_key, "storage_path": done.storage_path,
            "size_bytes": done.facts.size_bytes, "checksum": done.facts.checksum,
            "mime_type": done.facts.mime_type, "created_at": now,
            "created_by": done.draft.created_by, "superseded_at": None, "purged": False,
            "kept": False, "scan_json": json.dumps(done.scan) if done.scan else None}


def file_version(data: dict[str, Any]) -> FileVersion:
    """A version document as a ``FileVersion``."""
    return FileVersion(data["file_id"], data["version"], data["storage_key"],
                       data["storage_path"], data["size_bytes"], data["checksum"],
                       data["mime_type"], data["created_at"], data["created_by"],
                       data["superseded_at"], data["purged"],
                       json.loads(data["scan_json"]) if data.get("scan_json") else None)


# -- logs -------------------------------------------------------------------------------
def log_doc(entry: LogEntry, retention_days: int = 0) -> dict[str, Any]:
    """A log entry as a document; ``expire_at`` (a timestamp ``retention_days`` after the
    entry, for the ``logs`` TTL policy) when entries expire."""
    doc = {
        "id": entry.id, "ts": entry.timestamp, "operation_type": entry.operation_type,
        "resource_type": entry.resource_type, "resource_id": entry.resource_id,
        "details_json": json.dumps(entry.details, ensure_ascii=False),
        "agent_id": entry.agent_id, "task_id": entry.task_id, "session_id": entry.session_id,
        "facets": [f"{tag}:{getattr(entry, name)}" for name, tag in _LOG_FACETS
                   if getattr(entry, name) is not None],
        "tokens": text_index.index_tokens([log_search_text(entry)]),
    }
    if retention_days:
        doc["expire_at"] = parse_ts(entry.timestamp) + timedelta(days=retention_days)
    return doc


def log_facets(query: LogQuery) -> list[str]:
    """The facets a log query requires, most selective first."""
    return [f"{tag}:{getattr(query, name)}" for name, tag in _LOG_FACETS
            if getattr(query, name)]


def log_entry(data: dict[str, Any]) -> LogEntry:
    """A log document as a ``LogEntry``."""
    return LogEntry(data["id"], data["ts"], data["operation_type"], data["resource_type"],
                    data["resource_id"], json.loads(data["details_json"]), data["agent_id"],
                    data["task_id"], data.get("session_id"))


# -- events -----------------------------------------------------------------------------
def event_doc(event: Event, retention_days: int) -> dict[str, Any]:
    """An outbox event: ``pending`` until published, ordered by its commit time (a server
    timestamp: successive changes of one record commit in order), expiring by TTL."""
    row = {k: v for k, v in event.to_row().items() if k != "data"}
    return {**row, "data_json": json.dumps(event.data),
            "pending": True, "committed_at": firestore.SERVER_TIMESTAMP,
            "expire_at": parse_ts(event.time) + timedelta(days=retention_days)}


def event_of(data: dict[str, Any]) -> Event:
    """An event document as an ``Event``."""
    return Event.from_row({**data, "data": json.loads(data["data_json"])})


# -- list queries -----------------------------------------------------------------------
Check = Callable[[dict[str, Any]], bool]


def file_list_query(files: Any, query: FileQuery) -> tuple[Query, Check, bool]:
    """The list query, the Python check of every filter, and whether Firestore did them all.

    Firestore applies ``live`` and the first required facet; the check re-applies every
    facet and SQLite's folder bounds, so a hash collision or a prefix without a trailing
    slash gives SQLite's answer too.
    """
    facets = query_facets(query)
    # The trash is its own flag: deleted, its bytes not purged yet (``trashed``).
    q = Query(files, "files").where("trashed" if query.deleted else "live", "==", True)
    if facets:
        q.where("facets", "array_contains", facets[0])
    q.order_by("number")
    need, prefix = set(facets), query.path_prefix

    def accept(row: dict[str, Any]) -> bool:
        return need <= set(row["facets"]) and in_prefix(row["path"], prefix)

    return q, accept, len(facets) <= 1 and (not prefix or prefix.endswith("/"))


def log_list_query(logs: Any, query: LogQuery) -> tuple[Query, Check, bool]:
    """The log query (newest first), its Python check, and whether Firestore did it all."""
    facets = log_facets(query)
    qwords = text_index.query_words(query.text) if query.text else []
    q = Query(logs, "logs")
    if qwords:  # one array_contains per query: the words' token; facets are checked here
        q.where("tokens", "array_contains", query_token(qwords))
    elif facets:
        q.where("facets", "array_contains", facets[0])
    if query.since:
        q.where("ts", ">=", query.since)
    if query.until:
        q.where("ts", "<", query.until)
    q.order_by("ts", DESC).order_by("id", DESC)
    need = set(facets)

    def accept(row: dict[str, Any]) -> bool:
        return need <= set(row["facets"]) and (
            not qwords or text_index.matches(qwords, [log_search_text(log_entry(row))]))

    return q, accept, not qwords and len(facets) <= 1
