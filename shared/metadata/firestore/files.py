"""``FirestoreFiles``: the file-record role on Firestore.

Every change is one atomic batch with preconditions instead of a read-write transaction;
a batch that loses a race is re-read and retried (``FirestoreAccess.optimistic``). The
guarantees stay those of a transaction:

- a live path is unique: ``paths/{key(path)}`` is created (must not exist) in the batch
  that creates a record, and deleted in the batch that soft-deletes or releases it;
- file numbers come from an ``Increment`` of one counter whose commit returns the value:
  unique and increasing (a lost path race leaves a gap);
- overwrite versions come from an ``Increment`` of the record's ``reserved_version``;
- a record changes only if unchanged since read (``last_update_time``), together with its
  log entry and its event (``ready``, ``deleted``, ``infected``); a commit whose reply was
  lost is recognised by that entry.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.cursor import decode_cursor, encode_cursor
from shared.errors import Conflict, NotFound
from shared.events import file_event
from shared.metadata.base import check_expected, format_file_id, stamped, version_purge
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import Lost, edge
from shared.metadata.firestore.query import COLLECTION_GROUP, DESC, Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.metadata.folders import as_moved, path_taken
from shared.mime import extension_of
from shared.models import (
    FileDraft,
    FileQuery,
    FileRecord,
    FileVersion,
    Finalization,
    LogEntry,
    Page,
    Reservation,
    Usage,
)
from shared.timeutil import plus_seconds, utcnow

FILTER_PAGE_ROWS = 300  # rows per read when Python checks filters Firestore could not apply


class FirestoreFiles(FirestoreBase):
    """File records, reservations and their queries."""

    @edge
    def reserve_file(self, workspace_id: str, draft: FileDraft, overwrite: bool) -> Reservation:
        ws = self._ws(workspace_id)
        path_ref = ws.collection("paths").document(fd.key(draft.path))

        def attempt() -> Reservation:
            held = self.fs.get(path_ref)
            if held is not None and held.get("op"):  # a folder move holds it for a file
                raise path_taken(draft.path, None, held["op"])
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
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(done.reservation.file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> tuple[FileRecord, str | None]:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is not None:
                raise Conflict("the file was deleted while it was being uploaded")
            check_expected(done, data["version"])
            landing = as_moved(done, data["path"], data["filename"])
            version = data["version"] + 1  # commit order: every finalize becomes live
            now = utcnow()
            fields = fd.finalized_fields(
                landing.draft, version, done.storage_key, done.storage_path,
                done.facts, extension_of(landing.draft.filename), data["path"], now, done.scan)
            fields["revision"] = fd.revision_of(data) + 1
            batch = self.db.batch()
            batch.update(ref, fields, option=self.fs.if_unchanged(snap))
            batch.create(fd.version_ref(ws, done.reservation.file_id, version),
                         fd.version_doc(done, version, now))
            previous = data["storage_key"] or None
            if previous:
                self._supersede(batch, ws, workspace_id, data, now, retention_seconds)
            if previous != done.storage_key:  # the record claims the blob: drop its intent
                self._drop_purge(batch, done.storage_key)
            batch.create(log_ref, self._log_doc(stamped(entry, version)))
            record = fd.record({**data, **fields})
            self._put_event(batch, file_event("ready", record, now))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return record, previous

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

    def _supersede(self, batch: Any, ws: Any, workspace_id: str, data: dict[str, Any],
                   now: str, retention_seconds: int) -> None:
        """The record's live version stops being live: kept until retention, then purged."""
        batch.update(fd.version_ref(ws, data["id"], data["version"]),
                     {"superseded_at": now, "kept": True})
        self._schedule_purge(batch, data["storage_key"], plus_seconds(now, retention_seconds),
                             version_purge(workspace_id, data["id"], data["version"]))

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
                            want if exact else max(want, FILTER_PAGE_ROWS))
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
    def delete_file(self, workspace_id: str, file_id: str, entry: LogEntry,
                    retention_seconds: int) -> FileRecord:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is not None:
                raise NotFound("file not found")
            now = utcnow()
            changes = {"deleted_at": now, "updated_at": now, "live": False, "searchable": False,
                       "trashed": bool(data["storage_key"]),
                       "revision": fd.revision_of(data) + 1}
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            self._free_path(batch, ws, data)
            if data["storage_key"]:
                self._supersede(batch, ws, workspace_id, data, now, retention_seconds)
            batch.create(log_ref, self._log_doc(entry))
            record = fd.record({**data, **changes})
            self._put_event(batch, file_event("deleted", record, now))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return record

        return self.fs.optimistic(attempt)

    @edge
    def mark_infected(self, workspace_id: str, file_id: str, details: dict[str, Any],
                      entry: LogEntry, checksum: str | None = None) -> FileRecord | None:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord | None:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if (data is None or data["deleted_at"] is not None or data["status"] != "pending"
                    or data["version"] != 0):
                return None
            metadata, now = {**json.loads(data["metadata_json"]), "scan": details}, utcnow()
            changes = {"status": "infected", "metadata_json": json.dumps(metadata),
                       "updated_at": now, "revision": fd.revision_of(data) + 1,
                       **fd.scan_fields(details)}
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            batch.create(log_ref, self._log_doc(entry))
            record = fd.record({**data, **changes})
            self._put_event(batch, file_event("infected", record, now, 1, checksum))
            self.fs.commit(batch, marker=log_ref)
            return record

        return self.fs.optimistic(attempt)

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
    def list_file_versions(self, workspace_id: str, file_id: str) -> list[FileVersion]:
        q = (Query(self._ws(workspace_id).collection("versions"), "versions")
             .where("file_id", "==", file_id).order_by("version", DESC))
        return [fd.file_version(s.to_dict()) for s in self.fs.stream(q.build())]

    @edge
    def get_file_version(self, workspace_id: str, file_id: str,
                         version: int) -> FileVersion | None:
        data = self.fs.get(fd.version_ref(self._ws(workspace_id), file_id, version))
        return fd.file_version(data) if data else None

    @edge
    def mark_version_purged(self, workspace_id: str, file_id: str, version: int) -> None:
        ws = self._ws(workspace_id)
        with contextlib.suppress(gexc.NotFound):
            fd.version_ref(ws, file_id, version).update({"purged": True, "kept": False},
                                                        **self.fs.write)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        data = self.fs.get(ref)
        if data and data.get("trashed") and data["version"] == version:
            # Its bytes are gone: the deleted file leaves the trash for good.
            with contextlib.suppress(gexc.NotFound, gexc.FailedPrecondition):
                ref.update({"trashed": False}, **self.fs.write)

    @edge
    def usage(self, workspace_id: str) -> Usage:
        live = Query(self._files(workspace_id), "files").where("live", "==", True).build()
        totals = live.sum("size_bytes", alias="bytes").count(alias="files").get(**self.fs.read)
        values = {agg.alias: agg.value for agg in totals[0]}
        kept = (Query(self._ws(workspace_id).collection("versions"), "versions")
                .where("kept", "==", True).build().sum("size_bytes").get(**self.fs.read))
        return Usage(int(values.get("bytes") or 0), int(kept[0][0].value or 0),
                     int(values.get("files") or 0))
