"""``FirestoreMoves``: a folder move on Firestore, resumable and idempotent.

A commit holds at most 500 writes and moving a file takes four (the record, the old and
the new path document, its log entry), so a folder of any size cannot move in one commit.
The move is an operation with a stored status (``folder_moves/{key(id)}``, a keyed doc
holding ``FolderMove.to_doc()``) that runs in steps, each one commit:

1. **lock**: one running move per workspace (``folder_move_locks/{key(ws)}``, created
   with the move's document). A second POST of the same move resumes it; another is a 409.
2. **claiming**: the source's live files, in file-number order from a cursor kept in the
   move's state, get their target path documents created as *claims* (``op``, ``from``).
   A taken target, or an upload in flight under the source, fails the move: every claim
   is deleted, status ``failed``, and the caller gets the 409. Nothing has moved yet.
3. **moving**: batches of claimed files move, each file atomically (its record, both path
   documents, its log entry) and the move's progress in the same commit. A file that left
   the source meanwhile (deleted, moved by hand) just gives its claim back.
4. **done**: no claim left; the lock is dropped in the same commit.

Every step is preconditioned on the move's document, so two drivers (a repeated POST, the
sweep) never do one step twice, and a crash leaves a state any driver continues from.

What a reader sees: each file is in exactly one place at every instant, and one request
reads one snapshot (``list_folder``), so no answer shows a file in two folders or in
none. While the move runs, a snapshot may show some files still under the source and the
rest under the target; ``GET /folders/moves/{id}`` shows how far it got. Files written
under the source after its claiming passed them stay there.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from typing import Any

from google.cloud import firestore

from shared.errors import BadRequest, Conflict, NotFound, WorkspaceError
from shared.folderpaths import (
    FOLDER_LOCK_KIND,
    FOLDER_MOVE_KIND,
    FolderMove,
    move_due_at,
    target_of,
)
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import Lost, edge
from shared.metadata.firestore.folders import FirestoreFolders, moved_fields
from shared.metadata.firestore.query import Query
from shared.metadata.folders import EntryMaker, pending_under, taken_targets
from shared.timeutil import utcnow

CLAIM_CHUNK = 400  # claims per commit (+ the move's document)
MOVE_CHUNK = 100  # files per commit: 4 writes each, + the move's document and the touch
RELEASE_CHUNK = 450


class FirestoreMoves(FirestoreFolders):
    """Folder moves as resumable operations."""

    def _move_ref(self, move_id: str) -> Any:
        return self._keyed(FOLDER_MOVE_KIND, move_id)

    def _lock_ref(self, workspace_id: str) -> Any:
        return self._keyed(FOLDER_LOCK_KIND, workspace_id)

    def _load(self, move_id: str) -> tuple[Any, FolderMove | None]:
        snap = self.fs.snap(self._move_ref(move_id))
        data = snap.to_dict()
        return snap, FolderMove.from_doc(json.loads(data["data_json"])) if data else None

    def _save(self, batch: Any, snap: Any, move: FolderMove) -> None:
        batch.update(snap.reference, {"data_json": json.dumps(move.to_doc()),
                                      "due_at": move_due_at(move)},
                     option=self.fs.if_unchanged(snap))

    @edge
    def start_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                          budget_seconds: float) -> FolderMove:
        ws = move.workspace_id
        while True:
            batch = self.db.batch()
            batch.create(self._lock_ref(ws), fd.keyed_fields(ws, {"move_id": move.id}, ws,
                                                             move_due_at(move)))
            batch.create(self._move_ref(move.id), fd.keyed_fields(
                move.id, move.to_doc(), ws, move_due_at(move)))
            try:
                self.fs.commit(batch)
            except Lost:
                running = self._running(ws)
            else:
                return self._drive(move.id, make_entry, budget_seconds, raising=True)
            if running is None:
                continue  # the lock was released meanwhile: take it now
            if (running.source, running.target) != (move.source, move.target):
                raise Conflict("another folder move is in progress in this workspace",
                               operation_id=running.id)
            return self._drive(running.id, make_entry, budget_seconds, raising=True)

    def _running(self, workspace_id: str) -> FolderMove | None:
        """The move holding the workspace's lock, or None (a stale lock is dropped)."""
        lock = self.fs.snap(self._lock_ref(workspace_id))
        if not lock.exists:
            return None
        _, move = self._load(json.loads(lock.get("data_json"))["move_id"])
        if move is not None and move.active:
            return move
        batch = self.db.batch()  # the move ended without dropping it (a crash in between)
        batch.delete(lock.reference, option=self.fs.if_unchanged(lock))
        with contextlib.suppress(Lost):
            self.fs.commit(batch)
        return None

    @edge
    def resume_folder_move(self, move: FolderMove, make_entry: EntryMaker,
                           budget_seconds: float) -> FolderMove:
        return self._drive(move.id, make_entry, budget_seconds, raising=False)

    def _drive(self, move_id: str, make_entry: EntryMaker, budget_seconds: float,
               raising: bool) -> FolderMove:
        """Take steps until the move ends or the budget is spent (one step at least).

        A step that fails on a backend error leaves the move as it was (resumable); one
        that fails on the caller's error (a conflict) has ended it: ``raising`` says
        whether the error reaches the caller or the ended move is returned.
        """
        give_up, steps = time.monotonic() + budget_seconds, 0
        last: FolderMove | None = None
        while True:
            snap, move = self._load(move_id)
            if move is None:  # a move that found nothing under its source is forgotten
                if last is None:
                    raise NotFound("folder move not found")
                return replace(last, status="failed", error="no file lies under this folder")
            if not move.active or (steps and time.monotonic() >= give_up):
                return move
            last, steps = move, steps + 1
            try:
                if move.status == "claiming":
                    self._claim_step(snap, move)
                else:
                    self._move_step(snap, move, make_entry)
            except Lost:
                continue  # another driver took this step first: read the move again
            except (Conflict, NotFound, BadRequest):
                if raising:
                    raise

    # -- claiming ---------------------------------------------------------------------------
    def _claim_step(self, snap: Any, move: FolderMove) -> None:
        ws = self._ws(move.workspace_id)
        after = move.state.get("claim_after")
        q = (Query(ws.collection("files"), "files").where("live", "==", True)
             .where("facets", "array_contains", fd.folder_facet(move.source))
             .order_by("number"))
        rows = self.fs.scan(q, lambda r: fd.in_prefix(r["path"], move.source), CLAIM_CHUNK,
                            {"number": after} if after else None, CLAIM_CHUNK)
        if not rows:
            if move.files_total == 0:
                self._end(snap, move)
                raise NotFound("no file lies under this folder", path=move.source)
            batch = self.db.batch()
            self._save(batch, snap, replace(move, status="moving", updated_at=utcnow()))
            self.fs.commit(batch)
            return
        records = [fd.record(r) for r in rows]
        try:
            refused = pending_under(records)
            if refused is not None:
                raise refused
            plan = [(r, target_of(r.path, move.source, move.target)) for r in records]
            claims = self._claims(ws, move, plan)
        except WorkspaceError as exc:
            self._fail(snap, move, exc)
            exc.extra["operation_id"] = move.id
            raise
        batch = self.db.batch()
        for ref, fields in claims:
            batch.create(ref, fields)
        self._save(batch, snap, replace(
            move, files_total=move.files_total + len(claims), updated_at=utcnow(),
            state={**move.state, "claim_after": records[-1].number}))
        self.fs.commit(batch)

    def _claims(self, ws: Any, move: FolderMove,
                plan: list[tuple[Any, str]]) -> list[tuple[Any, dict[str, Any]]]:
        """The claim documents to create; 409 when a target path is held by another."""
        paths = ws.collection("paths")
        refs = [paths.document(fd.key(target)) for _, target in plan]
        held = {s.reference.id: s for s in self.db.get_all(refs, **self.fs.read)}
        claims, taken = [], []
        for (record, target), ref in zip(plan, refs, strict=True):
            found = held.get(ref.id)
            data = found.to_dict() if found is not None and found.exists else None
            if data is None:
                claims.append((ref, {"path": target, "file_id": record.id, "op": move.id,
                                     "from": record.path}))
            elif data.get("op") != move.id or data.get("file_id") != record.id:
                taken.append(self._holder(ws, target, data))
        if taken:
            raise taken_targets(taken)
        return claims

    def _holder(self, ws: Any, path: str, held: dict[str, Any]) -> dict[str, Any]:
        """How a conflict is reported: who holds the path, and why."""
        if held.get("op"):
            return {"path": path, "file_id": held["file_id"], "reason": "folder move"}
        holder = self.fs.get(ws.collection("files").document(fd.doc_id(held["file_id"])))
        pending = holder is not None and holder["status"] == "pending" and \
            holder["version"] == 0
        return {"path": path, "file_id": held["file_id"],
                "reason": "upload in progress" if pending else "taken"}

    def _fail(self, snap: Any, move: FolderMove, exc: WorkspaceError) -> None:
        """Give back every claim, then end the move as ``failed`` with the error."""
        paths = self._ws(move.workspace_id).collection("paths")
        while True:
            q = Query(paths, "paths").where("op", "==", move.id)
            claims = self.fs.stream(q.build(limit=RELEASE_CHUNK))
            if not claims:
                break
            batch = self.db.batch()
            for claim in claims:
                batch.delete(claim.reference)
            self.fs.commit(batch)
        conflicts = exc.extra.get("conflicts")
        self._end(snap, replace(move, status="failed", error=exc.message,
                                conflicts=tuple(conflicts) if isinstance(conflicts, list)
                                else (), updated_at=utcnow()))

    def _end(self, snap: Any, move: FolderMove) -> None:
        """Store the final state (or forget a move that found nothing) and drop the lock."""
        batch = self.db.batch()
        if move.active:
            batch.delete(snap.reference, option=self.fs.if_unchanged(snap))
        else:
            self._save(batch, snap, move)
        lock = self.fs.snap(self._lock_ref(move.workspace_id))
        if lock.exists and json.loads(lock.get("data_json"))["move_id"] == move.id:
            batch.delete(lock.reference, option=self.fs.if_unchanged(lock))
        self.fs.commit(batch)

    # -- moving -----------------------------------------------------------------------------
    def _move_step(self, snap: Any, move: FolderMove, make_entry: EntryMaker) -> None:
        ws = self._ws(move.workspace_id)
        q = Query(ws.collection("paths"), "paths").where("op", "==", move.id)
        claims = self.fs.stream(q.build(limit=MOVE_CHUNK))
        now = utcnow()
        if not claims:
            self._end(snap, replace(move, status="done", updated_at=now))
            return
        files = ws.collection("files")
        file_refs = [files.document(fd.doc_id(c.get("file_id"))) for c in claims]
        source_refs = [ws.collection("paths").document(fd.key(c.get("from"))) for c in claims]
        found = {s.reference.path: s for s in self.db.get_all(file_refs + source_refs,
                                                               **self.fs.read)}
        batch, marker, moved = self.db.batch(), None, 0
        for claim, file_ref, source_ref in zip(claims, file_refs, source_refs, strict=True):
            file_snap = found[file_ref.path]
            data = file_snap.to_dict() if file_snap.exists else None
            if data is None or data["deleted_at"] is not None or \
                    data["path"] != claim.get("from"):
                batch.delete(claim.reference, option=self.fs.if_unchanged(claim))
                continue  # it left the source meanwhile: the claim is given back
            target = claim.get("path")
            changes = moved_fields(data, target, data["filename"], now)
            batch.update(file_ref, changes, option=self.fs.if_unchanged(file_snap))
            source = found[source_ref.path]
            if source.exists and source.get("file_id") == data["id"]:
                batch.delete(source_ref, option=self.fs.if_unchanged(source))
            batch.update(claim.reference, {"op": firestore.DELETE_FIELD,
                                           "from": firestore.DELETE_FIELD},
                         option=self.fs.if_unchanged(claim))
            entry = make_entry(fd.record(data), fd.record({**data, **changes}))
            log_ref = fd.log_ref(ws, entry)
            batch.create(log_ref, fd.log_doc(entry))
            marker, moved = marker or log_ref, moved + 1
        self._save(batch, snap, replace(move, files_moved=move.files_moved + moved,
                                        updated_at=now))
        fd.touch(batch, ws, now)
        self.fs.commit(batch, marker=marker)
