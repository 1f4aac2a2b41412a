"""``FirestoreDocs``: the keyed-document role on Firestore.

Layout: ``{kind}/{key(key)}`` at the top level with ``key``, ``data_json``, ``scope`` and
``due_at``. The change token is the document's ``update_time``, so ``replace``/``delete``
are preconditioned writes (``last_update_time``). Both list queries filter one field
(``due_at <=`` or ``scope ==``): single-field indexes serve them, no composite index.
"""

from __future__ import annotations

import json
from typing import Any

from google.api_core import exceptions as gexc

from shared.metadata.base import Doc
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import edge
from shared.metadata.firestore.query import Query
from shared.metadata.firestore.refs import FirestoreBase


def _doc(kind: str, snap: Any) -> Doc:
    data = snap.to_dict()
    return Doc(kind, data["key"], json.loads(data["data_json"]), data["scope"], data["due_at"],
               snap.update_time)


class FirestoreDocs(FirestoreBase):
    """Small keyed documents with optimistic concurrency."""

    @edge
    def create_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                   due_at: str) -> Doc | None:
        try:
            result = self._keyed(kind, key).create(fd.keyed_fields(key, data, scope, due_at),
                                                   **self.fs.write)
        except gexc.AlreadyExists:
            return None
        return Doc(kind, key, data, scope, due_at, result.update_time)

    @edge
    def put_doc(self, kind: str, key: str, data: dict[str, Any], scope: str,
                due_at: str) -> None:
        self._keyed(kind, key).set(fd.keyed_fields(key, data, scope, due_at), **self.fs.write)

    @edge
    def get_doc(self, kind: str, key: str) -> Doc | None:
        snap = self.fs.snap(self._keyed(kind, key))
        return _doc(kind, snap) if snap.exists else None

    @edge
    def replace_doc(self, doc: Doc, data: dict[str, Any], due_at: str) -> Doc | None:
        option = self.db.write_option(last_update_time=doc.token)
        try:
            result = self._keyed(doc.kind, doc.key).update(
                {"data_json": json.dumps(data), "due_at": due_at}, option=option,
                **self.fs.write)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        return Doc(doc.kind, doc.key, data, doc.scope, due_at, result.update_time)

    @edge
    def delete_doc(self, doc: Doc) -> bool:
        option = self.db.write_option(last_update_time=doc.token)
        try:
            self._keyed(doc.kind, doc.key).delete(option=option, **self.fs.write)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    @edge
    def due_docs(self, kind: str, now: str, limit: int) -> list[Doc]:
        if limit <= 0:
            return []
        q = Query(self.db.collection(kind), kind).where("due_at", "<=", now)
        return [_doc(kind, s) for s in self.fs.stream(q.build(limit=limit))]

    @edge
    def scoped_docs(self, kind: str, scope: str, limit: int) -> list[Doc]:
        if limit <= 0:
            return []
        q = Query(self.db.collection(kind), kind).where("scope", "==", scope)
        return [_doc(kind, s) for s in self.fs.stream(q.build(limit=limit))]
