"""The ``BlobStore`` contract: every backend passes the same tests (fsspec's way).

``BlobStoreContract`` holds the tests; each backend is a subclass providing ``store`` (an
empty store) and ``listing`` (every object the backend holds, staging included: what a test
compares to prove that nothing was left behind). Local disk runs in a temporary directory,
GCS on the session's fake-gcs-server with a bucket of its own per test.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest

from localdev.gcs_keys import create_buckets
from shared.errors import BadRequest, Conflict, NotFound
from shared.storage.base import BlobStore
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.objects import GcsObjects
from shared.storage.gcs.store import GcsBlobStore
from shared.storage.local import LocalBlobStore

MiB = 1024 * 1024
KEY = "ws_1/file_000001/v1/report.bin"


def read_all(store: BlobStore, key: str, chunk: int = MiB) -> bytes:
    stream = store.open_read(key)
    out = bytearray()
    while piece := stream.read(chunk):
        assert len(piece) <= chunk
        out += piece
    stream.close()
    return bytes(out)


def put(store: BlobStore, key: str, data: bytes) -> None:
    staged = store.stage()
    staged.write(data)
    store.promote(staged, key)


class BlobStoreContract:
    """What every blob store promises."""

    def listing(self, store: BlobStore) -> list[str]:
        raise NotImplementedError

    def test_round_trip_streams_in_pieces(self, store):
        blocks = [os.urandom(MiB) for _ in range(5)] + [b"tail"]
        staged = store.stage()
        for block in blocks:
            staged.write(block)
        assert staged.size == 5 * MiB + 4
        store.promote(staged, KEY)
        data = read_all(store, KEY, chunk=300_000)
        assert hashlib.sha256(data).digest() == hashlib.sha256(b"".join(blocks)).digest()
        assert store.storage_path(KEY).startswith(f"{store.scheme}://")
        assert store.storage_path(KEY).endswith(KEY)
        assert len(self.listing(store)) == 1  # staging gone

    def test_an_empty_blob_is_a_blob(self, store):
        put(store, KEY, b"")
        assert read_all(store, KEY) == b""

    def test_promotion_is_create_only(self, store):
        put(store, KEY, b"first")
        staged = store.stage()
        staged.write(b"second")
        with pytest.raises(Conflict):
            store.promote(staged, KEY)
        staged.discard()
        assert read_all(store, KEY) == b"first"
        assert len(self.listing(store)) == 1

    def test_staging_at_the_final_key_still_promotes(self, store):
        staged = store.stage(KEY)  # in place where the backend can, staged elsewhere if not
        staged.write(b"direct")
        store.promote(staged, KEY)
        staged.discard()  # after promotion it leaves the blob alone
        assert read_all(store, KEY) == b"direct"
        assert len(self.listing(store)) == 1

    @pytest.mark.parametrize("written", [0, 1000, 3 * MiB], ids=["empty", "small", "large"])
    @pytest.mark.parametrize("closed", [False, True], ids=["open", "closed"])
    def test_discard_leaves_nothing(self, store, written, closed):
        staged = store.stage()
        if written:
            staged.write(os.urandom(written))
        if closed:
            staged.close()
        staged.discard()
        staged.discard()  # twice is fine
        assert self.listing(store) == []

    def test_delete_is_idempotent(self, store):
        put(store, KEY, b"bytes")
        assert store.delete(KEY) is True
        assert store.delete(KEY) is False
        with pytest.raises(NotFound):
            store.open_read(KEY)
        assert self.listing(store) == []

    def test_missing_and_malformed_keys(self, store):
        with pytest.raises(NotFound):
            store.open_read("ws_1/file_000009/v1/nothing.txt")
        for bad in ("../escape", "ws/../x", "a", "ws_1//x", "ws_1/\x00x"):
            with pytest.raises(BadRequest):
                store.open_read(bad)

    def test_sweep_removes_only_old_staging_leftovers(self, store):
        put(store, KEY, b"kept")
        old = store.stage()
        old.write(b"a crashed upload")
        old.close()
        time.sleep(1.2)
        fresh = store.stage()
        fresh.write(b"in flight")
        fresh.close()
        assert store.sweep_staging(3600) == 0
        assert store.sweep_staging(1) == 1
        assert len(self.listing(store)) == 2  # the blob and the fresh upload
        fresh.discard()
        assert len(self.listing(store)) == 1

    def test_describe_names_the_backend(self, store):
        assert store.describe()["backend"] == store.name


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalBlobStore:
        return LocalBlobStore(tmp_path / "blobs")

    def listing(self, store: BlobStore) -> list[str]:
        assert isinstance(store, LocalBlobStore)
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*")
                      if p.is_file())


class TestGcsBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, fake_gcs) -> GcsBlobStore:
        bucket = f"contract-{uuid.uuid4().hex[:16]}"
        create_buckets(fake_gcs.url, "contract", bucket)
        return GcsBlobStore(GcsObjects(GcsConnection("contract", fake_gcs.url)), bucket,
                            chunk_size=MiB)

    def listing(self, store: BlobStore) -> list[str]:
        assert isinstance(store, GcsBlobStore)
        client = store.objects.conn.client
        return sorted(b.name for b in client.list_blobs(store.bucket_name))
