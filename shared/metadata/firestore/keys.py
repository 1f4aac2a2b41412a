"""``FirestoreKeys``: the API-key role on Firestore.

Layout: ``api_keys/{key_id}`` (the record: ``workspace_id``, ``user_id``, ``name``,
``secret_hash``, ``scopes``, ``agent_id``, ``created_at``, ``expires_at``,
``last_used_at``) and ``api_key_buckets/{key_id}`` (``tokens``, ``at``), both top level so a
presented key is one document read. Listing filters on ``workspace_id`` alone, which the
automatic single-field index serves.

Changes are atomic batches with preconditions, as everywhere in this backend (see
``store``): a key and its log entry are created together (``create`` fails when the id is
taken); a revoke deletes the key (unchanged since read), its bucket and writes its log entry;
the bucket is re-read and retried when another instance changed it first. One document per
bucket means Firestore's guidance of about one sustained write a second per document bounds
how fast one key can be metered precisely; contention beyond it retries, then answers 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc

from shared.errors import Conflict
from shared.metadata.firestore import layout as fd
from shared.metadata.firestore.access import Lost, edge
from shared.metadata.firestore.query import Query
from shared.metadata.firestore.refs import FirestoreBase
from shared.metadata.keys import MAX_KEYS_PER_WORKSPACE
from shared.models import ApiKey, Bucket, LogEntry

KEYS, BUCKETS = "api_keys", "api_key_buckets"


def _fields(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "workspace_id": key.workspace_id, "user_id": key.user_id,
            "name": key.name, "secret_hash": key.secret_hash, "scopes": list(key.scopes),
            "agent_id": key.agent_id, "created_at": key.created_at,
            "expires_at": key.expires_at, "last_used_at": key.last_used_at}


def _key(data: dict[str, Any]) -> ApiKey:
    return ApiKey(data["id"], data["workspace_id"], data["user_id"], data["name"],
                  data["secret_hash"], tuple(data["scopes"]), data["agent_id"],
                  data["created_at"], data["expires_at"], data["last_used_at"])


class FirestoreKeys(FirestoreBase):
    """API keys and their buckets."""

    def _key_ref(self, key_id: str) -> Any:
        return self.db.collection(KEYS).document(fd.doc_id(key_id))

    def _bucket_ref(self, key_id: str) -> Any:
        return self.db.collection(BUCKETS).document(fd.doc_id(key_id))

    def _workspace_keys(self, workspace_id: str) -> Query:
        return Query(self.db.collection(KEYS), KEYS).where("workspace_id", "==", workspace_id)

    @edge
    def create_key(self, key: ApiKey, entry: LogEntry) -> bool:
        if self.fs.count(self._workspace_keys(key.workspace_id)) >= MAX_KEYS_PER_WORKSPACE:
            raise Conflict(f"a workspace holds at most {MAX_KEYS_PER_WORKSPACE} API keys;"
                           " revoke one first")
        batch = self.db.batch()
        batch.create(self._key_ref(key.id), _fields(key))
        log_ref = fd.log_ref(self._ws(key.workspace_id), entry)
        batch.create(log_ref, self._log_doc(entry))
        try:
            self.fs.commit(batch, marker=log_ref)
        except Lost:
            return False  # the id is taken
        return True

    @edge
    def get_key(self, key_id: str) -> ApiKey | None:
        data = self.fs.get(self._key_ref(key_id))
        return _key(data) if data else None

    @edge
    def list_keys(self, workspace_id: str) -> list[ApiKey]:
        rows = self.fs.stream(self._workspace_keys(workspace_id).build())
        return sorted((_key(s.to_dict()) for s in rows), key=lambda k: (k.created_at, k.id))

    @edge
    def revoke_key(self, workspace_id: str, key_id: str, entry: LogEntry) -> ApiKey | None:
        ref, fs = self._key_ref(key_id), self.fs

        def attempt() -> ApiKey | None:
            snap = fs.snap(ref)
            data = snap.to_dict()
            if data is None or data["workspace_id"] != workspace_id:
                return None
            batch = fs.db.batch()
            batch.delete(ref, option=fs.if_unchanged(snap))
            batch.delete(self._bucket_ref(key_id))
            log_ref = fd.log_ref(self._ws(workspace_id), entry)
            batch.create(log_ref, self._log_doc(entry))
            fs.commit(batch, marker=log_ref)
            return _key(data)

        return fs.optimistic(attempt)

    @edge
    def touch_key(self, key_id: str, used_at: str, stale_before: str) -> bool:
        snap = self.fs.snap(self._key_ref(key_id))
        data = snap.to_dict()
        if data is None or (data["last_used_at"] or "") >= stale_before:
            return False
        try:
            self._key_ref(key_id).update({"last_used_at": used_at},
                                         option=self.fs.if_unchanged(snap), **self.fs.write)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False  # touched or revoked meanwhile
        return True

    @edge
    def take_token(self, key_id: str, take: Callable[[Bucket | None], Bucket | None]) -> bool:
        ref, fs = self._bucket_ref(key_id), self.fs

        def attempt() -> bool:
            snap = fs.snap(ref)
            data = snap.to_dict()
            taken = take(Bucket(data["tokens"], data["at"]) if data else None)
            if taken is None:
                return False
            batch = fs.db.batch()
            fields = {"tokens": taken.tokens, "at": taken.at}
            if data is None:
                batch.create(ref, fields)
            else:
                batch.update(ref, fields, option=fs.if_unchanged(snap))
            fs.commit(batch)
            return True

        return fs.optimistic(attempt)
