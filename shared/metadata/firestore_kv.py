"""Firestore side of the keyed-document primitives: ``FirestoreDocs`` (``create_doc`` & co.).

Layout: ``{kind}/{key(key)}`` at the top level with ``key``, ``data_json``, ``scope`` and
``due_at``. The change token is the document's ``update_time``, so ``replace``/``delete``
are preconditioned writes (``last_update_time``). Both list queries filter one field
(``due_at <=`` or ``scope ==``): single-field indexes serve them, no composite index.
"""

from __future__ import annotations

import json
from typing import Any

from google.api_core import exceptions as gexc

from shared.metadata import firestore_docs as fd
from shared.metadata.base import Doc
from shared.metadata.firestore_access import FirestoreAccess
from shared.metadata.firestore_query import Query


def _doc(kind: str, snap: Any) -> Doc:
    data = snap.to_dict()
    return Doc(kind, data["key"], json.loads(data["data_json"]), data["scope"], data["due_at"],
               snap.update_time)


class FirestoreDocs:
    """Keyed documents over one ``FirestoreAccess``."""

    def __init__(self, fs: FirestoreAccess) -> None:
        self.fs = fs
        self.db = fs.db

    def _ref(self, kind: str, key: str) -> Any:
        return self.db.collection(kind).document(fd.key(key))

    def create(self, kind: str, key: str, data: dict[str, Any], scope: str,
               due_at: str) -> Doc | None:
        """Create-only; None when the key exists."""
        fields = {"key": key, "data_json": json.dumps(data), "scope": scope, "due_at": due_at}
        try:
            result = self._ref(kind, key).create(fields, **self.fs.write)
        except gexc.AlreadyExists:
            return None
        return Doc(kind, key, data, scope, due_at, result.update_time)

    def get(self, kind: str, key: str) -> Doc | None:
        """The doc or None."""
        snap = self.fs.snap(self._ref(kind, key))
        return _doc(kind, snap) if snap.exists else None

    def replace(self, doc: Doc, data: dict[str, Any], due_at: str) -> Doc | None:
        """Replace while unchanged; None when it changed or is gone."""
        option = self.db.write_option(last_update_time=doc.token)
        try:
            result = self._ref(doc.kind, doc.key).update(
                {"data_json": json.dumps(data), "due_at": due_at}, option=option,
                **self.fs.write)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        return Doc(doc.kind, doc.key, data, doc.scope, due_at, result.update_time)

    def delete(self, doc: Doc) -> bool:
        """Delete while unchanged; False when it changed or is gone."""
        option = self.db.write_option(last_update_time=doc.token)
        try:
            self._ref(doc.kind, doc.key).delete(option=option, **self.fs.write)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    def due(self, kind: str, now: str, limit: int) -> list[Doc]:
        """Docs due at or before ``now``."""
        if limit <= 0:
            return []
        q = Query(self.db.collection(kind), kind).where("due_at", "<=", now)
        return [_doc(kind, s) for s in self.fs.stream(q.build(limit=limit))]

    def scoped(self, kind: str, scope: str, limit: int) -> list[Doc]:
        """Docs in one scope."""
        if limit <= 0:
            return []
        q = Query(self.db.collection(kind), kind).where("scope", "==", scope)
        return [_doc(kind, s) for s in self.fs.stream(q.build(limit=limit))]
