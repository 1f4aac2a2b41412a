"""Failure behaviour of the cloud backends, with the real emulators killed or frozen mid-test.

- GCS down: a clear 503 and no record.
- Firestore unreachable between promotion and registration (the emulator is frozen with
  SIGSTOP right after the blob is promoted): the request fails with 503, the promoted blob is
  deleted at once, the half-made reservation is never served and the sweep frees it; no blob
  is ever left without a record, and no record points to a missing blob.
- Firestore down before anything is written: 503, and the staged bytes are gone.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localdev.emulators import FakeGcs, FirestoreEmulator, fake_gcs_binary, firestore_launcher
from shared import factory
from shared.config import reset_settings
from tests.conftest import Api, base_env, require
from tests.contract.conftest import CloudBackend


@pytest.fixture
def stack(tmp_path: Path, clamd, monkeypatch) -> Iterator[tuple[CloudBackend, Api]]:
    """Private emulators (they get killed) and an app configured against them."""
    require(fake_gcs_binary() is not None, "fake-gcs-server")
    require(firestore_launcher() is not None, "the Firestore emulator")
    from localdev.gcs_keys import write_service_account_key

    gcs = FakeGcs(tmp_path / "gcs").start()
    firestore = FirestoreEmulator(tmp_path / "fs")
    try:
        firestore.start()
        backend = CloudBackend(gcs, firestore, write_service_account_key(tmp_path / "k.json"))
        values = {**base_env(tmp_path / "storage", clamd.port), **backend.env(),
                  "GCS_TIMEOUT_SECONDS": "3", "GCS_RETRY_DEADLINE_SECONDS": "2",
                  "FIRESTORE_DEADLINE_SECONDS": "3"}
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reset_settings()
        from localdev.server import build_app

        yield backend, Api(Client(build_app(), Response))
    finally:
        if firestore.proc and firestore.proc.poll() is None:
            os.killpg(firestore.proc.pid, signal.SIGCONT)
        firestore.stop()
        gcs.stop()
        reset_settings()


def test_gcs_down_is_a_503_and_leaves_no_record(stack):
    backend, api = stack
    assert api.upload(b"before", "before.txt").status_code == 201
    backend.gcs.kill()
    response = api.upload(b"payload", "doc.txt")
    assert response.status_code == 503
    assert isinstance(response.json["error"], str)
    listed = api.get("/files").json
    assert [f["filename"] for f in listed] == ["before.txt"]
    assert api.get("/files/count").json == {"count": 1}


def test_firestore_frozen_after_promotion_leaves_no_orphan(stack, monkeypatch):
    backend, api = stack
    service = factory.file_service()
    promote = service.blobs.promote
    frozen: list[str] = []

    def promote_then_freeze(staged, key):  # the fault: Firestore stops answering here
        promote(staged, key)
        frozen.append(key)
        os.killpg(backend.firestore.proc.pid, signal.SIGSTOP)

    monkeypatch.setattr(service.blobs, "promote", promote_then_freeze)
    response = api.upload(b"half made", "half.txt")
    assert response.status_code == 503, response.json
    assert frozen, "the fault point was never reached"
    # The blob that was promoted is already gone; only GCS was reachable to undo it.
    assert backend.blob_snapshot() == {}
    os.killpg(backend.firestore.proc.pid, signal.SIGCONT)
    monkeypatch.setattr(service.blobs, "promote", promote)
    # The reservation Firestore could not release is pending: listed, never served.
    listed = api.get("/files").json
    assert [(f["path"], f["status"]) for f in listed] == [("/half.txt", "pending")]
    assert api.get(f"/files/{listed[0]['id']}/content").status_code == 409
    # The sweep frees it, and the purge intent finds nothing left to delete.
    report = service.sweep(stale_after_seconds=-1)
    assert report["reservations_released"] == 1
    assert api.get("/files").json == []
    assert api.upload(b"whole", "half.txt").status_code == 201
    assert len(backend.blob_snapshot()) == 1


def test_firestore_down_before_reserving_is_a_503_with_nothing_stored(stack):
    backend, api = stack
    api.get("")  # the workspace exists; the next failure is the reservation itself
    os.killpg(backend.firestore.proc.pid, signal.SIGSTOP)
    try:
        response = api.upload(b"payload", "doc.txt")
    finally:
        os.killpg(backend.firestore.proc.pid, signal.SIGCONT)
    assert response.status_code == 503
    assert backend.blob_snapshot() == {}, "staged bytes must be discarded"
    assert api.get("/files").json == []
