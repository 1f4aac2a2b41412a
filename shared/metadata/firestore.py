"""``FirestoreMetadataStore``: the cloud metadata backend (Cloud Firestore, native mode).

It behaves like ``SqliteMetadataStore`` method for method. ``firestore_docs`` holds the
document layout, ``firestore_query`` the queries and their composite indexes,
``firestore_memory`` the memory, and ``firestore_access`` the retry and commit plumbing.

Concurrency: every change is one atomic batch with preconditions (optimistic concurrency)
instead of a read-write transaction; a batch that loses a race is re-read and retried
after a jittered pause. Measured on the emulator, read-write transactions on one hot
document deadlock into 10 s lock timeouts (16 racing counter transactions: none committed
in 30 s; 8 writers x 20 memory appends: 3 done after 8 minutes), while these batches do
the 160 appends in about 2 s. The guarantees stay those of a transaction:

- a live path is unique: ``paths/{key(path)}`` is created (must not exist) in the batch
  that creates a record, and deleted in the batch that soft-deletes or releases it;
- file numbers come from an ``Increment`` of one counter whose commit returns the value:
  unique and increasing (a lost path race leaves a gap); no blocks, since 16 racing
  creators take about 0.1 s;
- overwrite versions come from an ``Increment`` of the record's ``reserved_version``;
- records and memory change only if unchanged since read (``last_update_time``), each
  change together with its log entry; a commit whose reply was lost is recognised by
  that entry, so a retry never applies a memory append twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared import text_index
from shared.config import Settings
from shared.cursor import decode_cursor, encode_cursor
from shared.errors import Conflict, NotFound
from shared.metadata import firestore_docs as fd
from shared.metadata import firestore_memory as memory
from shared.metadata.base import (
    Doc,
    MetadataStore,
    format_file_id,
    log_search_text,
    new_workspace_id,
)
from shared.metadata.firestore_access import FirestoreAccess, Lost, edge
from shared.metadata.firestore_kv import FirestoreDocs
from shared.metadata.firestore_query import COLLECTION_GROUP, DESC, Query
from shared.mime import extension_of
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    Finalization,
    LogEntry,
    LogQuery,
    MemoryChange,
    MemoryDoc,
    MemoryVersion,
    Page,
    Reservation,
    Workspace,
)
from shared.timeutil import plus_seconds, utcnow

log = logging.getLogger(__name__)

SCAN_CHUNK = 300  # rows per read when Python checks filters Firestore could not apply
MAX_WORKSPACE_CACHE = 10_000
PURGE_BATCH = 400  # deletes per commit


class FirestoreMetadataStore(MetadataStore):
    """Metadata in Cloud Firestore (or its emulator, when ``FIRESTORE_EMULATOR_HOST`` is set)."""

    name = "firestore"

    def __init__(self, settings: Settings, client: Any | None = None,
                 deadline: float = 10.0) -> None:
        self.project = settings.gcp_project
        self.emulator = (settings.firestore_emulator_host
                         or os.environ.get("FIRESTORE_EMULATOR_HOST", ""))
        self.fs = FirestoreAccess(self.project, client, deadline)
        self.db = self.fs.db
        self.docs = FirestoreDocs(self.fs)
        self._workspace_ids: dict[str, str] = {}  # user -> workspace never changes
        if settings.memory_max_length > 200_000:
            log.warning("MEMORY_MAX_LENGTH=%d may exceed Firestore's 1 MiB document limit",
                        settings.memory_max_length)

    # -- plumbing ---------------------------------------------------------------------
    def _ws(self, workspace_id: str) -> Any:
        return self.db.collection("workspaces").document(fd.doc_id(workspace_id))

    def _files(self, workspace_id: str) -> Any:
        return self._ws(workspace_id).collection("files")

    def _purge_ref(self, storage_key: str) -> Any:
        return self.db.collection("purge_queue").document(fd.key(storage_key))

    def _purge(self, batch: Any, storage_key: str, due_at: str) -> None:
        batch.set(self._purge_ref(storage_key), {"storage_key": storage_key, "due_at": due_at})

    # -- workspaces -------------------------------------------------------------------
    @edge
    def get_or_create_workspace(self, user_id: str) -> Workspace:
        cached = self._workspace_ids.get(user_id)
        ws = self.fs.get(self._ws(cached)) if cached else None
        if ws is None:
            users = self.db.collection("users").document(fd.key(user_id))
            link = self.fs.get(users)
            if link is None:
                ws_id, now = new_workspace_id(), utcnow()
                batch = self.db.batch()
                batch.create(users, {"user_id": user_id, "workspace_id": ws_id, "created_at": now})
                batch.create(self._ws(ws_id), {"user_id": user_id, "created_at": now,
                                               "touched_us": fd.to_us(now)})
                with contextlib.suppress(Lost):  # another request created it first
                    self.fs.commit(batch)
                link = self.fs.get(users) or {}
            cached = link["workspace_id"]
            ws = self.fs.get(self._ws(cached)) or {"created_at": link["created_at"]}
            if len(self._workspace_ids) >= MAX_WORKSPACE_CACHE:
                self._workspace_ids.clear()
            self._workspace_ids[user_id] = cached
        touched = ws.get("touched_us")
        return Workspace(cached, user_id, ws["created_at"],
                         fd.from_us(touched) if touched else ws["created_at"])

    # -- files ------------------------------------------------------------------------
    @edge
    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        ws = self._ws(workspace_id)
        path_ref = ws.collection("paths").document(fd.key(draft.path))

        def attempt() -> Reservation:
            held = self.fs.get(path_ref)
            if held is not None:
                return self._reserve_version(ws, held["file_id"], draft, overwrite)
            seq = ws.collection("state").document("file_seq")
            result = seq.set({"n": firestore.Increment(1)}, merge=True, **self.fs.write)
            number = int(result.transform_results[0].integer_value)
            file_id = format_file_id(number)
            file_ref = ws.collection("files").document(file_id)
            batch = self.db.batch()
            batch.create(path_ref, {"path": draft.path, "file_id": file_id})
            batch.create(file_ref, fd.new_file_doc(workspace_id, file_id, number, draft,
                                                   utcnow()))
            self.fs.commit(batch, marker=file_ref)
            return Reservation(file_id, number, 1, True, None)

        return self.fs.optimistic(attempt)

    def _reserve_version(self, ws: Any, file_id: str, draft: FileDraft,
                         overwrite: bool) -> Reservation:
        ref = ws.collection("files").document(file_id)
        live = self.fs.get(ref)
        if live is None or live["deleted_at"] is not None:
            raise Lost()  # freed since the path was read: look again
        if live["status"] == "pending" and live["version"] == 0:
            raise Conflict("an upload to this path is already in progress", path=draft.path)
        if not overwrite:
            raise Conflict("a file already exists at this path", path=draft.path,
                           file_id=live["id"])
        # reserved_version >= version always holds, so this is SQLite's max(...) + 1.
        try:
            result = ref.update({"reserved_version": firestore.Increment(1)}, **self.fs.write)
        except gexc.NotFound as exc:
            raise Lost() from exc  # released since it was read: look again
        version = int(result.transform_results[0].integer_value)
        return Reservation(live["id"], live["number"], version, False,
                           live["storage_key"] or None)

    @edge
    def finalize_file(self, workspace_id: str, done: Finalization, entry: LogEntry,
                      retention_seconds: int) -> tuple[FileRecord, str | None]:
        draft, reservation, facts = done.draft, done.reservation, done.facts
        storage_key, storage_path = done.storage_key, done.storage_path
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(reservation.file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> tuple[FileRecord, str | None]:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is not None:
                raise Conflict("the file was deleted while it was being uploaded")
            now = utcnow()
            batch = self.db.batch()
            batch.create(log_ref, fd.log_doc(entry))
            if data["version"] >= reservation.version:
                # A newer overwrite finished first: it stays; this upload's blob is orphaned.
                self._purge(batch, storage_key, now)
                self.fs.commit(batch, marker=log_ref)
                return fd.record(data), storage_key
            fields = fd.finalized_fields(draft, reservation.version, storage_key, storage_path,
                                         facts, extension_of(draft.filename), data["path"], now)
            batch.update(ref, fields, option=self.fs.if_unchanged(snap))
            previous = data["storage_key"] or None
            if previous:
                self._purge(batch, previous, plus_seconds(now, retention_seconds))
            if previous != storage_key:  # the record claims the blob: drop its purge intent
                batch.delete(self._purge_ref(storage_key))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return fd.record({**data, **fields}), previous

        return self.fs.optimistic(attempt)

    @edge
    def release_reservation(self, workspace_id: str, reservation: Reservation) -> None:
        if not reservation.is_new:
            return
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(reservation.file_id))

        def attempt() -> None:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["status"] != "pending" or data["version"] != 0:
                return
            batch = self.db.batch()
            batch.delete(ref, option=self.fs.if_unchanged(snap))
            self._free_path(batch, ws, data)
            self.fs.commit(batch)

        self.fs.optimistic(attempt)

    def _free_path(self, batch: Any, ws: Any, data: dict[str, Any]) -> None:
        path_ref = ws.collection("paths").document(fd.key(data["path"]))
        held = self.fs.snap(path_ref)
        if held.exists and held.get("file_id") == data["id"]:
            batch.delete(path_ref, option=self.fs.if_unchanged(held))

    @edge
    def get_file(self, workspace_id: str, file_id: str) -> FileRecord | None:
        data = self.fs.get(self._files(workspace_id).document(fd.doc_id(file_id)))
        return fd.record(data) if data else None

    @edge
    def get_file_by_path(self, workspace_id: str, path: str) -> FileRecord | None:
        ws = self._ws(workspace_id)
        held = self.fs.get(ws.collection("paths").document(fd.key(path)))
        data = self.fs.get(ws.collection("files").document(held["file_id"])) if held else None
        if data is None or data["deleted_at"] is not None or data["path"] != path:
            return None
        return fd.record(data)

    @edge
    def list_files(self, workspace_id: str, query: FileQuery) -> Page[FileRecord]:
        q, accept, exact = fd.file_list_query(self._files(workspace_id), query)
        after = decode_cursor("files", query.cursor, 1)
        want = query.limit + 1
        rows = self.fs.scan(q, accept, want, {"number": after[0]} if after else None,
                            want if exact else max(want, SCAN_CHUNK))
        items = [fd.record(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor("files", [items[-1].number]) if more else None)

    @edge
    def count_files(self, workspace_id: str, query: FileQuery) -> int:
        q, accept, exact = fd.file_list_query(self._files(workspace_id), query)
        if exact:
            return self.fs.count(q)
        return len(self.fs.scan(q, accept, 2**62, None, 1000, ["number", "facets", "path"]))

    @edge
    def search_candidates(
        self, workspace_id: str, qwords: list[str], file_type: str | None, cap: int
    ) -> list[FileRecord]:
        q = (Query(self._files(workspace_id), "files")
             .where("searchable", "==", True)
             .where("tokens", "array_contains", fd.query_token(qwords)).order_by("number"))
        rows = self.fs.scan(q, lambda row: fd.search_match(row, qwords, file_type), cap, None,
                            max(1, min(cap, 500)))
        return [fd.record(r) for r in rows]

    @edge
    def delete_file(
        self, workspace_id: str, file_id: str, entry: LogEntry, retention_seconds: int
    ) -> FileRecord:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is not None:
                raise NotFound("file not found")
            now = utcnow()
            changes = {"deleted_at": now, "updated_at": now, "live": False, "searchable": False}
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            self._free_path(batch, ws, data)
            if data["storage_key"]:
                self._purge(batch, data["storage_key"], plus_seconds(now, retention_seconds))
            batch.create(log_ref, fd.log_doc(entry))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return fd.record({**data, **changes})

        return self.fs.optimistic(attempt)

    # -- memory -----------------------------------------------------------------------
    @edge
    def get_memory(self, workspace_id: str) -> MemoryDoc:
        return memory.get(self.fs, self._ws(workspace_id))

    @edge
    def mutate_memory(
        self,
        workspace_id: str,
        mutate: Callable[[MemoryDoc], MemoryChange],
        updated_by: str | None,
        keep_versions: int,
    ) -> MemoryDoc:
        return memory.mutate(self.fs, self._ws(workspace_id), mutate, updated_by, keep_versions)

    @edge
    def list_memory_versions(self, workspace_id: str) -> list[MemoryVersion]:
        return memory.versions(self.fs, self._ws(workspace_id))

    @edge
    def get_memory_version(self, workspace_id: str, version: int) -> MemoryVersion | None:
        return memory.version(self.fs, self._ws(workspace_id), version)

    # -- operation log ----------------------------------------------------------------
    @edge
    def append_log(self, workspace_id: str, entry: LogEntry) -> None:
        batch = self.db.batch()
        ref = fd.log_ref(self._ws(workspace_id), entry)
        batch.create(ref, fd.log_doc(entry))
        self.fs.commit(batch, marker=ref)

    def _log_query(self, workspace_id: str) -> Query:
        return Query(self._ws(workspace_id).collection("logs"), "logs")

    @edge
    def list_logs(self, workspace_id: str, query: LogQuery) -> Page[LogEntry]:
        q, accept, exact = fd.log_list_query(self._ws(workspace_id).collection("logs"), query)
        after = decode_cursor("logs", query.cursor, 2)
        want = query.limit + 1
        rows = self.fs.scan(q, accept, want, {"ts": after[0], "id": after[1]} if after else None,
                            want if exact else max(want, SCAN_CHUNK))
        items = [fd.log_entry(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor("logs", [items[-1].timestamp, items[-1].id]) if more else None
        return Page(items, cursor)

    @edge
    def count_logs(self, workspace_id: str) -> int:
        return self.fs.count(self._log_query(workspace_id))

    @edge
    def search_log_candidates(self, workspace_id: str, qwords: list[str],
                              cap: int) -> list[LogEntry]:
        q = (self._log_query(workspace_id).where("tokens", "array_contains",
                                                 fd.query_token(qwords))
             .order_by("ts", DESC).order_by("id", DESC))

        def accept(row: dict[str, Any]) -> bool:
            return text_index.matches(qwords, [log_search_text(fd.log_entry(row))])

        return [fd.log_entry(r) for r in self.fs.scan(q, accept, cap, None, max(1, min(cap, 500)))]

    # -- purge ------------------------------------------------------------------------
    @edge
    def due_purges(self, now: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        q = Query(self.db.collection("purge_queue"), "purge_queue").where("due_at", "<=", now)
        return [s.get("storage_key") for s in self.fs.stream(q.build(limit=limit))]

    @edge
    def mark_purged(self, keys: list[str]) -> None:
        for start in range(0, len(keys), PURGE_BATCH):
            batch = self.db.batch()
            for storage_key in keys[start:start + PURGE_BATCH]:
                batch.delete(self._purge_ref(storage_key))
            batch.commit(**self.fs.write)

    @edge
    def schedule_purge(self, key: str, due: str) -> None:
        batch = self.db.batch()
        self._purge(batch, key, due)
        batch.commit(**self.fs.write)

    @edge
    def stale_reservations(self, older_than: str, limit: int) -> list[tuple[str, Reservation]]:
        if limit <= 0:
            return []
        q = (Query(self.db.collection_group("files"), "files", COLLECTION_GROUP)
             .where("status", "==", "pending").where("version", "==", 0)
             .where("updated_at", "<", older_than))
        rows = [s.to_dict() for s in self.fs.stream(q.build(limit=limit))]
        return [(r["workspace_id"], Reservation(r["id"], r["number"], 1, True, None))
                for r in rows]

    @edge
    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord | None:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if (data is None or data["deleted_at"] is not None or data["status"] != "pending"
                    or data["version"] != 0):
                return None
            metadata = {**json.loads(data["metadata_json"]), "scan": details}
            changes = {"status": "infected", "metadata_json": json.dumps(metadata),
                       "updated_at": utcnow()}
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            batch.create(log_ref, fd.log_doc(entry))
            self.fs.commit(batch, marker=log_ref)
            return fd.record({**data, **changes})

        return self.fs.optimistic(attempt)

    @edge
    def usage_bytes(self, workspace_id: str) -> int:
        q = Query(self._files(workspace_id), "files").where("live", "==", True)
        result = q.build().sum("size_bytes").get(**self.fs.read)
        return int(result[0][0].value or 0)

    # -- keyed documents --------------------------------------------------------------
    @edge
    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        return self.docs.create(kind, key, data, scope, due_at)

    @edge
    def get_doc(self, kind: str, key: str) -> Doc | None:
        return self.docs.get(kind, key)

    @edge
    def replace_doc(self, doc: Doc, data: dict[str, Any], due_at: str) -> Doc | None:
        return self.docs.replace(doc, data, due_at)

    @edge
    def delete_doc(self, doc: Doc) -> bool:
        return self.docs.delete(doc)

    @edge
    def due_docs(self, kind: str, now: str, limit: int) -> list[Doc]:
        return self.docs.due(kind, now, limit)

    @edge
    def scoped_docs(self, kind: str, scope: str, limit: int) -> list[Doc]:
        return self.docs.scoped(kind, scope, limit)

    # -- health -----------------------------------------------------------------------
    def ping(self) -> bool:
        return self.fs.ping()

    def describe(self) -> dict[str, str]:
        info = {"backend": self.name, "project": self.project}
        if self.emulator:
            info["emulator"] = self.emulator
        return info
