"""``FirestoreFileEdits``: changing a record in place on Firestore (metadata edits, undelete).

As everywhere in this backend, a change is one batch whose record update holds the
precondition "unchanged since read": of two edits that read the same revision, the second
commit fails and is re-read, and then ``check_edit`` refuses its stale revision. An undelete
creates the path document in the same batch (``create`` fails when the path is taken), so a
restore can never share its path with a live file.
"""

from __future__ import annotations

import json
from typing import Any

from shared import text_index
from shared.errors import Conflict, NotFound
from shared.events import file_event
from shared.metadata.edits import check_edit, edit_entry, edited
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.refs import FirestoreBase
from shared.mime import extension_of
from shared.models import FileEdit, FileRecord, LogEntry
from shared.timeutil import utcnow


def searchable_fields(record: FileRecord) -> dict[str, Any]:
    """The index fields that follow a record's name, description, tags and path."""
    return {"facets": fd.file_facets(record.file_type, record.created_by, record.tags,
                                     record.path),
            "tokens": text_index.index_tokens([record.filename, record.description,
                                               *record.tags])}


class FirestoreFileEdits(FirestoreBase):
    """Metadata edits and undeletes."""

    @edge
    def edit_file(self, workspace_id: str, file_id: str, edit: FileEdit,
                  entry: LogEntry) -> FileRecord:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            record = check_edit(fd.record(data) if data else None, edit)
            changes = edit.changes(record)
            if not changes:
                return record
            new = edited(record, edit, utcnow())
            fields = {"description": new.description, "tags": list(new.tags),
                      "metadata_json": json.dumps(new.metadata), "updated_at": new.updated_at,
                      "revision": new.revision, **searchable_fields(new)}
            batch = self.db.batch()
            batch.update(ref, fields, option=self.fs.if_unchanged(snap))
            batch.create(log_ref, self._log_doc(edit_entry(entry, changes, new.revision)))
            fd.touch(batch, ws, new.updated_at)
            self.fs.commit(batch, marker=log_ref)
            return new

        return self.fs.optimistic(attempt)

    @edge
    def restore_file(self, workspace_id: str, file_id: str, path: str | None,
                     entry: LogEntry) -> FileRecord:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))
        log_ref = fd.log_ref(ws, entry)

        def attempt() -> FileRecord:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is None or not self._restorable(ws, data):
                raise NotFound("no deleted file with this id can be restored")
            target = path or data["path"]
            path_ref = ws.collection("paths").document(fd.key(target))
            held = self.fs.get(path_ref)
            if held is not None:
                raise Conflict("the path is taken; restore to another path", path=target,
                               file_id=held["file_id"])
            now = utcnow()
            record = fd.record(data)
            filename = target.rsplit("/", 1)[-1]
            fields = {"deleted_at": None, "live": True, "searchable": True, "trashed": False,
                      "path": target, "filename": filename,
                      "file_extension": extension_of(filename), "updated_at": now,
                      "revision": record.revision + 1}
            restored = fd.record({**data, **fields})
            fields.update(searchable_fields(restored))
            batch = self.db.batch()
            batch.update(ref, fields, option=self.fs.if_unchanged(snap))
            batch.create(path_ref, {"path": target, "file_id": file_id})
            batch.update(fd.version_ref(ws, file_id, record.version),
                         {"superseded_at": None, "kept": False})
            self._drop_purge(batch, record.storage_key)
            batch.create(log_ref, self._log_doc(entry))
            self._put_event(batch, file_event("restored", restored, now))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return restored

        return self.fs.optimistic(attempt)

    def _restorable(self, ws: Any, data: dict[str, Any]) -> bool:
        """A deleted file whose last version still has its bytes (not purged)."""
        if not data["storage_key"]:
            return False
        version = self.fs.get(fd.version_ref(ws, data["id"], data["version"]))
        return version is not None and not version["purged"]
