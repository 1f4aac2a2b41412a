"""``FirestoreFolders``: moving one file, and listing a folder, on Firestore.

A file's move is one batch with preconditions, like every change here: the record (path,
name, folder facets, search tokens) is updated only if unchanged since read, the new
``paths/{key(path)}`` document is created (so a taken path fails the commit) and the old
one deleted, together with the log entry.

A folder listing runs ``walk_folder`` inside one read-only transaction, so all its reads
(the ordered path ranges, projected to path and id; the page's files; each sub-folder's
count and byte sum, aggregation queries run a few at a time) see one snapshot: a file
being moved shows in exactly one of two folders, whichever side of its commit the snapshot
is on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.cloud import firestore

from shared import text_index
from shared.errors import NotFound
from shared.folderpaths import FolderPage
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import Lost, edge
from shared.metadata.firestore.files import FirestoreFiles
from shared.metadata.firestore.query import Query
from shared.metadata.folders import EntryMaker, check_movable, path_taken, walk_folder
from shared.mime import extension_of
from shared.models import FileRecord
from shared.timeutil import utcnow

TOTALS_IN_PARALLEL = 8  # sub-folder counts of one page run concurrently (one snapshot)


def moved_fields(data: dict[str, Any], path: str, filename: str, now: str) -> dict[str, Any]:
    """What a move changes on a file document: path, name, folder facets, name tokens, the
    revision."""
    changes: dict[str, Any] = {
        "path": path, "filename": filename, "file_extension": extension_of(filename),
        "updated_at": now, "revision": fd.revision_of(data) + 1,
        "facets": [f for f in data["facets"] if not f.startswith("d:")] + fd.folder_facets(path),
    }
    if data["searchable"] and filename != data["filename"]:
        changes["tokens"] = text_index.index_tokens(
            [filename, data["description"], *data["tags"]])
    return changes


class FirestoreFolders(FirestoreFiles):
    """One file's move, and folder listings."""

    @edge
    def move_file(self, workspace_id: str, file_id: str, path: str, filename: str,
                  expected_version: int | None, make_entry: EntryMaker,
                  if_revision: int | None = None) -> FileRecord:
        ws = self._ws(workspace_id)
        ref = ws.collection("files").document(fd.doc_id(file_id))

        def attempt() -> FileRecord:
            snap = self.fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["deleted_at"] is not None:
                raise NotFound("file not found")
            before = fd.record(data)
            check_movable(before, expected_version, if_revision)
            if (path, filename) == (before.path, before.filename):
                return before
            now = utcnow()
            changes = moved_fields(data, path, filename, now)
            after = fd.record({**data, **changes})
            batch = self.db.batch()
            batch.update(ref, changes, option=self.fs.if_unchanged(snap))
            if path != before.path:
                self._take_path(batch, ws, path, file_id)
                self._free_path(batch, ws, data)
            entry = make_entry(before, after)
            log_ref = fd.log_ref(ws, entry)
            batch.create(log_ref, fd.log_doc(entry))
            fd.touch(batch, ws, now)
            self.fs.commit(batch, marker=log_ref)
            return after

        return self.fs.optimistic(attempt)

    def _take_path(self, batch: Any, ws: Any, path: str, file_id: str) -> None:
        """Create ``path``'s document for ``file_id`` in ``batch``; 409 when it is held."""
        path_ref = ws.collection("paths").document(fd.key(path))
        held = self.fs.get(path_ref)
        if held is not None:
            if held.get("op"):
                raise path_taken(path, None, held["op"])
            holder = self.fs.get(ws.collection("files").document(fd.doc_id(held["file_id"])))
            if holder is None or holder["deleted_at"] is not None:
                raise Lost()  # freed since it was read: look again
            raise path_taken(path, fd.record(holder))
        batch.create(path_ref, {"path": path, "file_id": file_id})  # fails if taken meanwhile

    @edge
    def list_folder(self, workspace_id: str, prefix: str, after: tuple[str, bool] | None,
                    limit: int) -> FolderPage:
        files = self._files(workspace_id)

        @firestore.transactional
        def read(tx: Any) -> FolderPage:
            def paths(lo: str, inclusive: bool, hi: str, n: int) -> list[tuple[str, str]]:
                q = (Query(files, "files").where("live", "==", True)
                     .where("path", ">=" if inclusive else ">", lo).where("path", "<", hi)
                     .order_by("path"))
                found = q.build(limit=n, select=["path", "id"]).stream(transaction=tx,
                                                                       **self.fs.read)
                return [(s.get("path"), s.get("id")) for s in found]

            def records(ids: list[str]) -> list[FileRecord]:
                refs = [files.document(fd.doc_id(i)) for i in ids]
                found = {s.id: s.to_dict() for s in self.db.get_all(
                    refs, transaction=tx, **self.fs.read)}
                return [fd.record(found[ref.id]) for ref in refs]

            def total(folder: str) -> tuple[int, int]:
                # The list query's own shape (and index): live files with the folder's facet.
                q = (Query(files, "files").where("live", "==", True)
                     .where("facets", "array_contains", fd.folder_facet(folder))
                     .order_by("number"))
                result = (q.build().count(alias="files").sum("size_bytes", alias="bytes")
                          .get(transaction=tx, **self.fs.read))
                values = {agg.alias: agg.value for agg in result[0]}
                return int(values.get("files") or 0), int(values.get("bytes") or 0)

            def totals(folders: list[str]) -> list[tuple[int, int]]:
                if len(folders) < 2:
                    return [total(f) for f in folders]
                with ThreadPoolExecutor(min(TOTALS_IN_PARALLEL, len(folders))) as pool:
                    return list(pool.map(total, folders))

            return walk_folder(prefix, after, limit, paths, records, totals)

        return read(self.db.transaction(read_only=True))
