"""Failure behaviour of the cloud backends, with the real emulators killed or frozen mid-test.

- GCS down: a clear 503 and no record.
- Firestore unreachable between promotion and registration (the emulator is frozen with
  SIGSTOP right after the blob is promoted): the request fails with 503. The commit's outcome
  is unknown (it may still apply when the emulator resumes), so the blob stays under its purge
  intent: if the commit landed, the record is ready and its blob is there; if not, the
  reservation is never served, the sweep frees it and the intent removes the bytes. No blob
  outlives the sweep unregistered, and no record points to a missing blob.
- Firestore down before anything is written: 503, and the staged bytes are gone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localdev.emulators import FakeGcs, FirestoreEmulator, fake_gcs_binary, firestore_launcher
from shared import factory
from shared.timeutil import plus_seconds, utcnow
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
                  "FIRESTORE_DEADLINE_SECONDS": "6"}  # a loaded CI machine: 3 s was flaky
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        factory.reset()
        from localdev.server import build_app

        yield backend, Api(Client(build_app(), Response))
    finally:
        if firestore.proc and firestore.proc.poll() is None:
            os.killpg(firestore.proc.pid, signal.SIGCONT)
        firestore.stop()
        gcs.stop()
        factory.reset()


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
    """Firestore stops answering between promotion and the commit. The service cannot know
    whether its commit will still apply (a frozen emulator reads the buffered request when it
    resumes, and sometimes commits it), so it keeps the blob under its purge intent. Either
    way no record points at a missing blob, and no blob outlives the sweep unregistered."""
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
    assert len(backend.blob_snapshot()) == 1, "an unknown outcome must not delete the blob"
    os.killpg(backend.firestore.proc.pid, signal.SIGCONT)
    monkeypatch.setattr(service.blobs, "promote", promote)
    time.sleep(2)  # let a buffered commit apply, if it is going to
    listed = api.get("/files").json
    assert [f["path"] for f in listed] == ["/half.txt"]
    later = plus_seconds(utcnow(), 2 * 3600)
    if listed[0]["status"] == "ready":  # the late commit landed: its blob must be there
        link = api.get(f"/files/{listed[0]['id']}/content?redirect=false").json["url"]
        status, body, _ = backend.fetch(api, link)
        assert (status, body) == (200, b"half made")
        assert frozen[0] not in [d.key for d in service.meta.due_purges(later, 100)]
        return
    # It did not land: pending, listed, never served; the sweep frees the path and the
    # blob's purge intent (due an hour after the upload began) removes the bytes.
    assert listed[0]["status"] == "pending"
    assert api.get(f"/files/{listed[0]['id']}/content").status_code == 409
    report = factory.maintenance().files.sweep(stale_after_seconds=-1)
    assert report["reservations_released"] == 1
    assert api.get("/files").json == []
    assert frozen[0] in [d.key for d in service.meta.due_purges(later, 100)]
    assert api.upload(b"whole", "half.txt").status_code == 201


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
