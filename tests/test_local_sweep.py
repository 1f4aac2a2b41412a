"""The local store's staging sweep (GCS staging is swept in tests/test_gcs_store.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from shared import factory
from tests.conftest import storage_snapshot


def test_staging_leftovers_are_removed_after_the_grace_period(api, env):
    storage = Path(env["WORKSPACE_STORAGE_DIR"])
    api.upload(b"x", "x.txt")  # creates the storage tree
    leftover = storage / ".staging" / "upload-crashed"
    leftover.write_bytes(b"half an upload")
    assert factory.maintenance().files.sweep()["staging_removed"] == 0
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert factory.maintenance().files.sweep()["staging_removed"] == 1
    assert not leftover.exists()
    assert ".staging/upload-crashed" not in storage_snapshot(storage)
