"""``landing``: direct uploads in-process, on fake-gcs-server buckets and SQLite, with every GCS
request recorded.

The finalize handler, the sweep and ``upload-url`` run here as production builds them
(``factory.direct_uploads()``, ``factory.maintenance()``), on buckets of their own and the
session clamd. The incoming bucket is not versioned, as in production (a deleted generation
is gone); ``Landing.keep_generations`` turns versioning on for tests that overwrite an
object and need the earlier generation to stay readable.
GCS requests go through a ``RecordingProxy``: fake-gcs-server ignores preconditions, so the
requests themselves are the proof that a copy or delete is pinned. The event path proper
(Pub/Sub pushes to a function process) is ``test_direct_upload_e2e.py``; this is the fast
harness for what must be staged at an exact moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localdev.emulators import FakeGcs
from shared import factory
from shared.models import ObjectRef
from tests.conftest import Api, base_env, gcs_client, post_json
from tests.recording_proxy import Call, RecordingProxy

PROJECT = "landing-test"


class Landing:
    """One deployment's direct uploads, and what a test needs to stage and observe them."""

    def __init__(self, api: Api, proxy: RecordingProxy, client: Any, suffix: str,
                 clamd_port: int) -> None:
        self.api, self.proxy, self.client = api, proxy, client
        self.clamd_port = clamd_port  # the session clamd (the scanner configured first)
        self.files, self.incoming, self.quarantine = (
            f"files-{suffix}", f"incoming-{suffix}", f"quarantine-{suffix}")

    @property
    def finalizer(self) -> Any:
        finalizer = factory.direct_uploads().finalizer
        assert finalizer is not None
        return finalizer

    def issue(self, content: bytes, filename: str = "report.txt", user: str = "alice",
              headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        """``POST /files/upload-url`` for ``content``; the 201 body."""
        body = {"filename": filename, "size_bytes": len(content), "mime_type": "text/plain",
                **extra}
        response = post_json(self.api, "/files/upload-url", body, user=user, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    @staticmethod
    def name(ticket: dict[str, Any]) -> str:
        """The incoming object name the URL was signed for."""
        path = unquote(urlsplit(ticket["upload_url"]).path)
        return path.split("/", 2)[2]

    def put(self, ticket: dict[str, Any], content: bytes) -> int:
        """PUT to the signed URL as a client would; the generation it created."""
        response = requests.put(ticket["upload_url"], data=content, headers=ticket["headers"],
                                timeout=30)
        assert response.status_code == 200, response.text
        return self.generation(self.name(ticket))

    def generation(self, name: str) -> int:
        blob = self.client.bucket(self.incoming).get_blob(name)
        assert blob is not None, name
        return int(blob.generation)

    def keep_generations(self) -> None:
        """Version the incoming bucket: overwritten generations stay readable."""
        bucket = self.client.bucket(self.incoming)
        bucket.versioning_enabled = True
        bucket.patch()

    def overwrite(self, name: str, content: bytes) -> int:
        """Another writer replaces the incoming object (GCS refuses it; the emulator does not)."""
        blob = self.client.bucket(self.incoming).blob(name)
        blob.upload_from_string(content)
        return int(blob.generation)

    def process(self, name: str, generation: int) -> str:
        """The finalize handler's work for one generation (what an event triggers)."""
        return self.finalizer.process(ObjectRef(self.incoming, name, generation))

    def record(self, file_id: str, user: str = "alice") -> dict[str, Any]:
        response = self.api.get(f"/files/{file_id}", user=user)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def download(self, file_id: str, user: str = "alice") -> tuple[int, bytes]:
        response = self.api.get(f"/files/{file_id}/content", user=user)
        if response.status_code == 302:
            fetched = requests.get(response.headers["Location"], timeout=30)
            return fetched.status_code, fetched.content
        return response.status_code, response.data

    def names(self, bucket: str) -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(bucket))

    def bytes_of(self, bucket: str, name: str) -> bytes:
        return self.client.bucket(bucket).blob(name).download_as_bytes()

    def copies_into(self, bucket: str) -> list[Call]:
        """The rewrite (copy) requests whose target is ``bucket``."""
        return self.proxy.matching(
            lambda c: c.method == "POST" and f"/rewriteTo/b/{bucket}/" in c.path)


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from localdev.gcs_keys import write_service_account_key

    return write_service_account_key(tmp_path_factory.mktemp("landing-key") / "sa.json")


@pytest.fixture
def landing(fake_gcs: FakeGcs, clamd: Any, signing_key: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Landing]:
    """Direct uploads on fresh buckets, SQLite metadata and the session clamd."""
    suffix = uuid.uuid4().hex[:10]
    client = gcs_client(fake_gcs.url, PROJECT)
    proxy = RecordingProxy(fake_gcs.url).start()
    env = {**base_env(tmp_path / "storage", clamd.port),
           "METADATA_BACKEND": "sqlite", "MEDIA_GCS_BUCKET_NAME": f"files-{suffix}",
           "INCOMING_GCS_BUCKET_NAME": f"incoming-{suffix}",
           "QUARANTINE_GCS_BUCKET_NAME": f"quarantine-{suffix}",
           "STORAGE_EMULATOR_HOST": proxy.url, "GOOGLE_CLOUD_PROJECT": PROJECT,
           "GCS_SIGNING_KEY_FILE": str(signing_key), "RECONCILE_AFTER_SECONDS": "0"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    factory.reset()
    from localdev.server import build_app

    api = Api(Client(build_app(), Response))
    landing = Landing(api, proxy, client, suffix, clamd.port)
    client.create_bucket(landing.incoming)
    client.create_bucket(landing.files)
    client.create_bucket(landing.quarantine)
    try:
        yield landing
    finally:
        factory.reset()
        proxy.stop()
