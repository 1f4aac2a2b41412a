"""The client on the ``make dev`` stack: the Pub/Sub emulator, fake-gcs-server publishing
finalize events, the Firestore emulator, clamd, ``scan_uploaded_file`` behind a push
subscription, and the API server on those backends. Here ``POST /files/upload-url`` works, so
big uploads take the direct signed-URL path: PUT to storage, then the scan verdict. The
stack (``dev_server``) is the package's, in ``tests/client/conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from workspace_client import Infected, Workspace

from tests.client.conftest import run_ws
from tests.conftest import EICAR

MIB = 1024 * 1024


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
