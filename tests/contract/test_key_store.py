"""The ``KeyRole`` contract: API keys and their buckets behave the same on every backend.

Like ``test_metadata_store.py``: the tests live in ``KeyStoreContract``; each backend is a
subclass giving ``store`` (fresh and empty) and ``another`` (a second instance on the same
data, as a second process would have). The bucket test races 16 instances for 10 tokens.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.apikeys import secret
from shared.apikeys.bucket import TokenBucket
from shared.errors import Conflict
from shared.metadata.base import MetadataStore
from shared.metadata.firestore import FirestoreMetadataStore
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import ApiKey, Bucket, LogQuery
from shared.timeutil import plus_seconds, utcnow
from tests.contract.test_metadata_store import build
from tests.metadata_helpers import entry, in_threads


def new_key(ws: str, user: str = "alice", name: str = "k", created_at: str | None = None,
            scopes: tuple[str, ...] = ("files:read",)) -> tuple[ApiKey, str]:
    key_id, key = secret.new_key()
    return ApiKey(key_id, ws, user, name, secret.digest(key), scopes, "bot",
                  created_at or utcnow(), None), key


def key_entry(op: str, key: ApiKey):
    return entry(op, key.id, rtype="key", details={"name": key.name})


class KeyStoreContract:
    """What every metadata backend promises about API keys."""

    spec: tuple[str, ...]

    @pytest.fixture
    def another(self, store: MetadataStore) -> Callable[[], MetadataStore]:
        return lambda: build(self.spec)

    def test_create_get_list_and_revoke_with_their_log_entries(self, store, another):
        ws = store.get_or_create_workspace("alice").id
        first, plain = new_key(ws, name="first", created_at=plus_seconds(utcnow(), -5))
        second, _ = new_key(ws, name="second", scopes=("memory:read", "logs:read"))
        assert store.create_key(first, key_entry("create", first)) is True
        assert store.create_key(second, key_entry("create", second)) is True
        other = another()
        assert other.get_key(first.id) == first
        assert secret.matches(plain, other.get_key(first.id).secret_hash)
        assert other.list_keys(ws) == [first, second]  # oldest first
        assert store.list_keys(store.get_or_create_workspace("bob").id) == []
        assert store.revoke_key(ws, first.id, key_entry("delete", first)) == first
        assert other.get_key(first.id) is None and other.list_keys(ws) == [second]
        assert store.revoke_key(ws, first.id, key_entry("delete", first)) is None
        logged = [(e.operation_type, e.resource_type, e.resource_id)
                  for e in store.list_logs(ws, LogQuery(resource_type="key")).items]
        assert logged == [("delete", "key", first.id), ("create", "key", second.id),
                          ("create", "key", first.id)]  # one delete: the refused one wrote none

    def test_a_taken_id_is_refused_without_a_trace(self, store):
        ws = store.get_or_create_workspace("alice").id
        key, _ = new_key(ws)
        assert store.create_key(key, key_entry("create", key)) is True
        twin = ApiKey(key.id, ws, "alice", "twin", "0" * 64, ("media",), None, utcnow())
        assert store.create_key(twin, key_entry("create", twin)) is False
        assert store.get_key(key.id) == key
        assert store.count_logs(ws) == 1

    def test_only_the_owner_workspace_revokes(self, store):
        alice = store.get_or_create_workspace("alice").id
        bob = store.get_or_create_workspace("bob").id
        key, _ = new_key(alice)
        store.create_key(key, key_entry("create", key))
        assert store.revoke_key(bob, key.id, key_entry("delete", key)) is None
        assert store.get_key(key.id) == key and store.count_logs(bob) == 0

    def test_the_number_of_keys_is_capped(self, store, monkeypatch):
        for module in ("shared.metadata.sqlite.keys", "shared.metadata.firestore.keys"):
            monkeypatch.setattr(f"{module}.MAX_KEYS_PER_WORKSPACE", 3)
        ws = store.get_or_create_workspace("alice").id
        for _ in range(3):
            key, _ = new_key(ws)
            assert store.create_key(key, key_entry("create", key))
        extra, _ = new_key(ws)
        with pytest.raises(Conflict):
            store.create_key(extra, key_entry("create", extra))
        assert len(store.list_keys(ws)) == 3 and store.get_key(extra.id) is None

    def test_last_used_at_is_written_once_per_window_and_never_revives_a_key(self, store):
        ws = store.get_or_create_workspace("alice").id
        key, _ = new_key(ws)
        store.create_key(key, key_entry("create", key))
        t0 = utcnow()
        assert store.touch_key(key.id, t0, plus_seconds(t0, -60)) is True
        t1 = plus_seconds(t0, 30)  # within the minute: nothing is written
        assert store.touch_key(key.id, t1, plus_seconds(t1, -60)) is False
        assert store.get_key(key.id).last_used_at == t0
        t2 = plus_seconds(t0, 61)
        assert store.touch_key(key.id, t2, plus_seconds(t2, -60)) is True
        assert store.get_key(key.id).last_used_at == t2
        store.revoke_key(ws, key.id, key_entry("delete", key))
        t3 = plus_seconds(t2, 120)
        assert store.touch_key(key.id, t3, plus_seconds(t3, -60)) is False
        assert store.get_key(key.id) is None

    def test_a_bucket_is_shared_by_racing_instances(self, store, another):
        bucket, now = TokenBucket(10), 1_000_000.0
        stores = [another() for _ in range(16)]
        results = in_threads(16, lambda i: stores[i].take_token(
            "key_race", lambda state: bucket.take(state, now)))
        assert (results.count(True), results.count(False)) == (10, 6), results
        seen: list[Bucket | None] = []
        store.take_token("key_race", lambda state: seen.append(state))
        assert seen == [Bucket(0.0, now)]
        assert store.take_token("key_race", lambda state: bucket.take(state, now + 6)) is True

    def test_revoking_drops_the_bucket(self, store):
        ws = store.get_or_create_workspace("alice").id
        key, _ = new_key(ws)
        store.create_key(key, key_entry("create", key))
        assert store.take_token(key.id, lambda state: Bucket(3.0, 1.0)) is True
        store.revoke_key(ws, key.id, key_entry("delete", key))
        seen: list[Bucket | None] = []
        store.take_token(key.id, lambda state: seen.append(state))
        assert seen == [None]


class TestSqliteKeyStore(KeyStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteMetadataStore:
        self.spec = ("sqlite", str(tmp_path / "sqlite"))
        return SqliteMetadataStore(self.spec[1])


class TestFirestoreKeyStore(KeyStoreContract):
    @pytest.fixture
    def store(self, firestore_emulator, monkeypatch) -> FirestoreMetadataStore:
        host = firestore_emulator.host_port
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        self.spec = ("firestore", host, f"keys-{uuid.uuid4().hex[:12]}")
        return build(self.spec)  # type: ignore[return-value]
