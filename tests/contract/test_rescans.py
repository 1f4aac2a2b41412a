"""Rescans on both backend pairs: on demand, and the job after a signature update.

A clamd of this module's own ships signature updates for real: a new signature in the
project's test database (``daily.cud``), the next database version, ``RELOAD``. A file
stored clean before the update is found by the job, quarantined (the quarantine folder on
local disk, the quarantine prefix of the files bucket on GCS), becomes ``infected`` with its
event, and its content is refused; the job is resumable across a pause and a scanner outage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.clamd import ClamdProcess, find_clamd
from shared import factory
from shared.errors import ScannerUnavailable
from shared.rescans.job import RescanJob
from tests.conftest import Api, post_json, require


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    """This module's clamd: its signature database is updated by the tests."""
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    proc = ClamdProcess(tmp_path_factory.mktemp("rescan-clamd"), max_file_mb=10).start()
    require(proc.db_version is not None, "a test database that can be versioned")
    yield proc
    proc.stop()


def upload(api: Api, content: bytes, name: str) -> dict:
    response = api.upload(content, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def feed(api: Api) -> list[tuple[str, str, int]]:
    body = api.get("/events?limit=1000").get_json()
    return [(e["type"].rsplit(".", 1)[1], e["subject"], e["data"]["version"])
            for e in body["events"]]


def quarantined(backend, env: dict[str, str], record: dict) -> bool:
    """The live blob left the files store for quarantine."""
    path = record["file_path"]
    if backend.name == "embedded":
        key = path.removeprefix("local://")
        storage = Path(env["WORKSPACE_STORAGE_DIR"])
        return (storage / ".quarantine" / key).is_file() and not (storage / key).exists()
    name = path.removeprefix(f"gcs://{backend.bucket}/")
    return backend.blob_exists(f"gcs://{backend.bucket}/quarantine/{name}") and \
        not backend.blob_exists(path)


def test_a_signature_update_quarantines_a_file_stored_clean(api, backend, env, clamd, download):
    marker = f"rescan-marker-{uuid.uuid4().hex}".encode()
    bad = upload(api, b"looked harmless: " + marker, "later-bad.txt")
    good = upload(api, b"still fine", "good.txt")
    assert bad["scan"]["verdict"] == "clean" and bad["scan"]["db_version"] == clamd.db_version
    assert bad["scan"]["engine"].startswith("ClamAV") and bad["scan"]["bytes"] > 0

    version = clamd.add_signature(f"Workspace.Test.Rescan{uuid.uuid4().hex[:8]}", marker)
    report = factory.rescan_job().run()
    assert report["target_db_version"] == version
    assert (report["scanned"], report["infected"], report["remaining"]) == (2, 1, 0)

    infected = api.get(f"/files/{bad['id']}").get_json()
    assert infected["status"] == "infected"
    assert infected["scan"]["signature"].startswith("Workspace.Test.Rescan")
    assert infected["scan"]["db_version"] == version
    assert download(bad["id"])[0] == 409
    assert quarantined(backend, env, bad)
    assert api.get(f"/files/{good['id']}").get_json()["scan"]["db_version"] == version
    assert download(good["id"])[:2] == (200, b"still fine")
    assert feed(api) == [("ready", bad["id"], 1), ("ready", good["id"], 1),
                         ("infected", bad["id"], 1), ("rescanned", good["id"], 1)]
    scans = api.get(f"/logs?resource_id={bad['id']}&operation_type=scan").get_json()
    assert scans[0]["details"]["verdict"] == "infected" and scans[0]["details"]["rescan"]

    again = factory.rescan_job().run()  # nothing older is left
    assert (again["this_run"]["scanned"], again["remaining"]) == (0, 0)
    on_demand = post_json(api, f"/files/{good['id']}/rescan", {})
    assert on_demand.status_code == 200 and on_demand.get_json()["status"] == "ready"
    assert feed(api)[-1] == ("rescanned", good["id"], 1)
    refused = post_json(api, f"/files/{bad['id']}/rescan", {})
    assert refused.status_code == 409 and "error" in refused.get_json()
    assert post_json(api, "/files/file_999999/rescan", {}).status_code == 404
    assert post_json(api, f"/files/{good['id']}/rescan", {}, user="bob").status_code == 404


def test_the_job_resumes_after_a_pause_and_a_scanner_outage(api, env, clamd):
    ids = [upload(api, f"file {n}".encode(), f"f{n}.txt")["id"] for n in range(3)]
    version = clamd.add_signature(f"Workspace.Test.Nothing{uuid.uuid4().hex[:8]}",
                                  uuid.uuid4().hex.encode())
    job = RescanJob(factory.rescans(), factory.metadata_store(), batch=1, rate=100)
    first = job.run(max_seconds=0)  # one batch, then the time budget is spent
    assert first["status"].startswith("paused") and first["scanned"] == 1
    assert first["remaining"] == 2
    clamd.stop()
    try:
        with pytest.raises(ScannerUnavailable):
            job.run()
    finally:
        clamd.start()
    done = job.run()
    assert done["status"] == "done" and done["target_db_version"] == version
    assert (done["scanned"], done["remaining"]) == (3, 0)  # one pass, counted once each
    for file_id in ids:
        assert api.get(f"/files/{file_id}").get_json()["scan"]["db_version"] == version
