"""Direct uploads end to end, over the real local event path (no handler is called directly).

upload-url (the in-process API on Firestore + fake-gcs-server) → ``requests.put`` to the
signed URL on fake-gcs-server → fake-gcs-server publishes ``OBJECT_FINALIZE`` to the Pub/Sub
emulator → a push subscription delivers it to ``scan_uploaded_file`` served by
functions-framework → the ClamAV front reads that generation from fake-gcs-server and scans it
with clamd (``POST /scan/gcs``, as on Cloud Run) → Firestore shows the outcome. The sweep
runs as its own functions-framework process too.

What the emulator lacks (see ``test_gcs_store.test_emulator_does_not_enforce_signed_urls``):
fake-gcs-server ignores ``x-goog-if-generation-match: 0`` on a signed PUT, so a second PUT to
the same URL is accepted there. ``test_a_second_put_is_never_promoted_unscanned`` shows what
holds regardless: every generation that is promoted was scanned, and a generation arriving
after the upload finished is quarantined, never served. The URL itself is checked against the
V4 algorithm in ``test_direct_upload.py``.

Pub/Sub pushes go through a ``RecordingProxy`` in front of the function, so a test that waits
for a redelivery counts the deliveries it expects (and what the function answered to each)
instead of sleeping and asserting that nothing changed meanwhile.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.cloud_stack import (
    FILES,
    INCOMING,
    PROJECT,
    QUARANTINE,
    TOPIC,
    WAIT,
    Stack,
    pushed_object,
)
from tests.conftest import EICAR, Api, post_json


@pytest.fixture
def api(cloud_api: Api) -> Api:
    """The in-process API on the stack's backends."""
    return cloud_api


@pytest.fixture
def user() -> str:
    """A fresh user (so a fresh workspace) per test."""
    return f"u{uuid.uuid4().hex[:10]}"


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def ask(api: Api, user: str, content: bytes, filename: str = "report.txt",
        session: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"filename": filename, "size_bytes": len(content), "mime_type": "text/plain", **extra}
    headers = {"X-Agent-Id": "uploader", "X-Task-Id": "t1"}
    if session:
        headers["X-Session-Id"] = session
    response = post_json(api, "/files/upload-url", body, user=user, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def put(ticket: dict[str, Any], content: bytes) -> requests.Response:
    return requests.put(ticket["upload_url"], data=content, headers=ticket["headers"],
                        timeout=30)


def ident(ticket: dict[str, Any]) -> str:
    """``{workspace_id}/{file_id}/``: what the object names of one upload contain."""
    name = ticket["upload_url"].split(f"/{INCOMING}/incoming/")[1]
    return "/".join(name.split("/")[:2]) + "/"


def record(api: Api, user: str, file_id: str) -> dict[str, Any]:
    response = api.get(f"/files/{file_id}", user=user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def status_is(api: Api, user: str, file_id: str, status: str) -> Callable[[], bool]:
    return lambda: record(api, user, file_id)["status"] == status


def logs(api: Api, user: str, file_id: str) -> list[dict[str, Any]]:
    return api.get(f"/logs?resource_id={file_id}", user=user).get_json()


def download(api: Api, user: str, file_id: str) -> tuple[int, bytes]:
    response = api.get(f"/files/{file_id}/content", user=user)
    if response.status_code == 302:
        fetched = requests.get(response.headers["Location"], timeout=30)
        return fetched.status_code, fetched.content
    return response.status_code, response.data


def test_clean_upload_becomes_ready_and_downloads(api: Api, stack: Stack, user: str) -> None:
    content = b"quarterly numbers\n" * 1000
    ticket = ask(api, user, content, description="Q3", tags=["finance"])
    pending = record(api, user, ticket["file_id"])
    assert pending["status"] == "pending"
    assert [f["id"] for f in api.get("/files", user=user).get_json()] == [ticket["file_id"]]
    assert download(api, user, ticket["file_id"])[0] == 409  # never served while pending

    assert put(ticket, content).status_code == 200
    wait_for(status_is(api, user, ticket["file_id"], "ready"), "the record to be ready")

    ready = record(api, user, ticket["file_id"])
    assert ready["checksum"] == hashlib.sha256(content).hexdigest()
    assert ready["size_bytes"] == len(content)
    assert ready["mime_type"] == "text/plain"
    assert ready["tags"] == ["finance"] and ready["description"] == "Q3"
    assert download(api, user, ticket["file_id"]) == (200, content)
    assert ready["file_path"].startswith(f"gcs://{FILES}/workspaces/")
    assert ready["file_path"].endswith(f"/{ticket['file_id']}/v1/report.txt")
    assert wait_for(lambda: not stack.names(INCOMING, f"incoming/{ws_of(ready)}/"),
                    "the incoming object to be deleted")
    created = [e for e in logs(api, user, ticket["file_id"]) if e["operation_type"] == "create"]
    assert len(created) == 1
    assert created[0]["agent_id"] == "uploader" and created[0]["task_id"] == "t1"
    assert created[0]["details"]["checksum"] == ready["checksum"]


def ws_of(rec: dict[str, Any]) -> str:
    """The workspace id inside a record's ``gcs://bucket/workspaces/{ws}/...`` path."""
    return rec["file_path"].split("/workspaces/")[1].split("/")[0]


def test_eicar_is_quarantined_and_never_served(api: Api, stack: Stack, user: str) -> None:
    ticket = ask(api, user, EICAR, filename="eicar.txt", session="chat7")
    assert put(ticket, EICAR).status_code == 200
    wait_for(status_is(api, user, ticket["file_id"], "infected"), "the record to be infected")

    infected = record(api, user, ticket["file_id"])
    assert infected["metadata"]["scan"]["signature"].startswith("Workspace.Test.EICAR")
    assert download(api, user, ticket["file_id"])[0] == 409
    assert api.get(f"/files/{ticket['file_id']}/content?redirect=false",
                   user=user).status_code == 409
    quarantined = wait_for(lambda: [n for n in stack.names(QUARANTINE)
                                    if f"{ident(ticket)}eicar.txt." in n],
                           "the quarantined object")
    assert len(quarantined) == 1
    blob = stack.storage.bucket(QUARANTINE).get_blob(quarantined[0])
    assert blob.download_as_bytes() == EICAR
    assert not [n for n in stack.names(FILES) if ident(ticket) in n]
    assert wait_for(lambda: not [n for n in stack.names(INCOMING)
                                 if ident(ticket) in n], "incoming to be emptied")
    scans = [e for e in logs(api, user, ticket["file_id"]) if e["operation_type"] == "scan"]
    assert len(scans) == 1 and scans[0]["details"]["verdict"] == "infected"
    # The finalize function has no request: the session comes from the ticket.
    assert scans[0]["session_id"] == "chat7"
    in_session = api.get("/logs?operation_type=scan", user=user,
                         headers={"X-Session-Id": "chat7"}).get_json()
    assert [e["resource_id"] for e in in_session] == [ticket["file_id"]]
    elsewhere = api.get("/logs?operation_type=scan", user=user,
                        headers={"X-Session-Id": "chat8"}).get_json()
    assert elsewhere == []


def test_the_same_event_three_times_changes_nothing_the_second_time(
        api: Api, stack: Stack, user: str) -> None:
    content = b"delivered more than once"
    ticket = ask(api, user, content)
    assert put(ticket, content).status_code == 200
    wait_for(status_is(api, user, ticket["file_id"], "ready"), "the record to be ready")
    name = ticket["upload_url"].split(f"/{INCOMING}/")[1].split("?")[0]
    generation = wait_for(lambda: _generation_from_quarantine_or_lock(stack, name),
                          "the processed generation")
    # Publish the very same notification twice more, through the emulator's topic.
    stack.wait_for_pushes(name, 1, ok=True)
    for _ in range(2):
        _publish_finalize(stack, INCOMING, name, generation, len(content))
    # Both duplicates were pushed and acknowledged (2xx: no redelivery will follow).
    stack.wait_for_pushes(name, 3, ok=True)
    files = api.get("/files", user=user).get_json()
    assert [f["id"] for f in files] == [ticket["file_id"]]
    assert [e["operation_type"] for e in logs(api, user, ticket["file_id"])] == ["create"]
    promoted = [n for n in stack.names(FILES) if ident(ticket) in n]
    assert len(promoted) == 1
    assert record(api, user, ticket["file_id"])["version"] == 1


def _generation_from_quarantine_or_lock(stack: Stack, name: str) -> int | None:
    from google.cloud import firestore

    from shared.uploads.locks import LOCKS

    client = firestore.Client(project=PROJECT)
    for snap in client.collection(LOCKS).stream():
        key = snap.get("key")
        if key.startswith(f"{INCOMING}/{name}#"):
            return int(key.rsplit("#", 1)[1])
    return None


def _publish_finalize(stack: Stack, bucket: str, name: str, generation: int,
                      size: int) -> None:
    import base64
    import json
    from datetime import UTC, datetime

    pubsub = next(p for p in _pubsub_hosts(stack))
    data = base64.b64encode(json.dumps({"bucket": bucket, "name": name,
                                        "generation": str(generation),
                                        "size": str(size)}).encode()).decode()
    body = {"messages": [{"data": data, "attributes": {
        "bucketId": bucket, "objectId": name, "objectGeneration": str(generation),
        "eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1",
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z")}}]}
    response = requests.post(f"http://{pubsub}/v1/projects/{PROJECT}/topics/{TOPIC}:publish",
                             json=body, timeout=10)
    assert response.status_code == 200, response.text


def _pubsub_hosts(stack: Stack) -> Iterator[str]:
    assert stack.gcs.pubsub is not None
    yield stack.gcs.pubsub[0]


def test_scanner_down_keeps_pending_until_redelivery(api: Api, stack: Stack, user: str) -> None:
    content = b"uploaded while the scanner is away"
    ticket = ask(api, user, content)
    name = ticket["upload_url"].split(f"/{INCOMING}/")[1].split("?")[0]
    stack.clamd.stop()
    try:
        assert put(ticket, content).status_code == 200
        # The first delivery and a redelivery both failed (the function raised).
        stack.wait_for_pushes(name, 2, ok=False)
        assert not stack.pushes.matching(lambda c: pushed_object(c) == name and c.status < 300)
        assert record(api, user, ticket["file_id"])["status"] == "pending"
        assert download(api, user, ticket["file_id"])[0] == 409
        assert not [n for n in stack.names(FILES) if ident(ticket) in n]
    finally:
        stack.clamd.start()  # same port: the function's configuration still holds
    wait_for(status_is(api, user, ticket["file_id"], "ready"), "redelivery after clamd is back")
    assert download(api, user, ticket["file_id"]) == (200, content)
    stack.wait_for_pushes(name, 1, ok=True)  # it was a redelivery that finished it


def test_sweep_redrives_a_lost_event(api: Api, stack: Stack, user: str) -> None:
    """An object whose event never came (written without notification) is found by the sweep."""
    content = b"its event was lost"
    ticket = ask(api, user, content)
    name = ticket["upload_url"].split(f"/{INCOMING}/")[1].split("?")[0]
    stack.clamd.stop()
    try:
        assert put(ticket, content).status_code == 200
        stack.wait_for_pushes(name, 1, ok=False)  # its event failed: as good as lost
        assert record(api, user, ticket["file_id"])["status"] == "pending"
        report = requests.post(stack.sweep.url, timeout=60).json()
        assert report["redriven"].get("failed", 0) >= 1  # scanner down: nothing changes
        assert record(api, user, ticket["file_id"])["status"] == "pending"
    finally:
        stack.clamd.start()
    report = requests.post(stack.sweep.url, timeout=60)
    assert report.status_code == 200
    wait_for(status_is(api, user, ticket["file_id"], "ready"), "the sweep's re-drive")
    assert not stack.names(INCOMING, name)
    assert requests.get(stack.sweep.url, timeout=10).status_code == 405


def test_a_second_put_is_never_promoted_unscanned(api: Api, stack: Stack, user: str) -> None:
    """fake-gcs-server accepts a second PUT to the signed URL (GCS refuses it: the URL signs
    ``x-goog-if-generation-match: 0``). What holds anyway: the promoted bytes are a generation
    that was scanned, and a later generation is quarantined as unexpected, never served."""
    first = b"the first, scanned bytes"
    ticket = ask(api, user, first)
    assert put(ticket, first).status_code == 200
    wait_for(status_is(api, user, ticket["file_id"], "ready"), "the first upload")
    second = b"EVIL replacement bytes!!"  # same size: only the generation differs
    assert len(second) == len(first)
    assert put(ticket, second).status_code == 200  # the emulator's gap
    wait_for(lambda: [n for n in stack.names(QUARANTINE) if ident(ticket) in n],
             "the second generation to be quarantined")
    assert download(api, user, ticket["file_id"]) == (200, first)
    assert record(api, user, ticket["file_id"])["version"] == 1
    scans = [e for e in logs(api, user, ticket["file_id"]) if e["operation_type"] == "scan"]
    assert scans and scans[0]["details"]["verdict"] == "unexpected"


def test_a_size_other_than_declared_is_quarantined(api: Api, stack: Stack, user: str) -> None:
    ticket = ask(api, user, b"12345")
    assert put(ticket, b"a much longer body than declared").status_code == 200  # emulator gap
    wait_for(lambda: [n for n in stack.names(QUARANTINE) if ident(ticket) in n],
             "the object to be quarantined")
    wait_for(lambda: api.get(f"/files/{ticket['file_id']}", user=user).status_code == 404,
             "the reservation to be released")
    assert not [n for n in stack.names(FILES) if ident(ticket) in n]


def _direct(api: Api, user: str, content: bytes, **extra: Any) -> dict[str, Any]:
    """A whole direct upload: the URL, the PUT, and the event's outcome (ready)."""
    ticket = ask(api, user, content, **extra)
    assert put(ticket, content).status_code == 200
    wait_for(lambda: record(api, user, ticket["file_id"])["version"] == ticket["version"]
             and record(api, user, ticket["file_id"])["status"] == "ready",
             f"version {ticket['version']} to be ready")
    return ticket


def test_a_clean_overwrite_bumps_the_version(api: Api, stack: Stack, user: str) -> None:
    first = _direct(api, user, b"the first draft\n")
    second = _direct(api, user, b"the second, better draft\n", overwrite=True)
    assert second["file_id"] == first["file_id"] and second["version"] == 2
    live = record(api, user, first["file_id"])
    assert live["version"] == 2
    assert live["checksum"] == hashlib.sha256(b"the second, better draft\n").hexdigest()
    assert download(api, user, first["file_id"]) == (200, b"the second, better draft\n")
    ops = [(e["operation_type"], e["details"].get("version"))
           for e in logs(api, user, first["file_id"]) if e["operation_type"] != "read"]
    assert ops == [("update", 2), ("create", 1)]


def test_an_infected_overwrite_keeps_the_live_version(api: Api, stack: Stack, user: str) -> None:
    first = _direct(api, user, b"a clean first version\n", filename="doc.txt")
    ticket = ask(api, user, EICAR, filename="doc.txt", overwrite=True)
    assert ticket["file_id"] == first["file_id"] and ticket["version"] == 2
    assert put(ticket, EICAR).status_code == 200
    scan = wait_for(lambda: [e for e in logs(api, user, first["file_id"])
                             if e["operation_type"] == "scan"], "the infected version's record")
    assert len(scan) == 1
    details = scan[0]["details"]
    assert details["verdict"] == "infected" and details["slot"] == 2
    assert details["signature"].startswith("Workspace.Test.EICAR")
    assert details["quarantine"].startswith(f"gcs://{QUARANTINE}/")
    live = record(api, user, first["file_id"])
    assert (live["status"], live["version"]) == ("ready", 1)
    assert download(api, user, first["file_id"]) == (200, b"a clean first version\n")
    assert [n for n in stack.names(QUARANTINE) if ident(ticket) in n]
    promoted = [n for n in stack.names(FILES) if ident(ticket) in n]
    assert len(promoted) == 1 and promoted[0].endswith("/v1/doc.txt")
