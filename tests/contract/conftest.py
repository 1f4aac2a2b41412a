"""The contract suite's backends: every test here runs on each backend pair.

- ``embedded``: local disk + SQLite (``make run``);
- ``cloud``: GCS on fake-gcs-server + Firestore on the gcloud emulator (``make dev``).

Each backend is a small fixture class with capability flags (STYLE habit 7); a shared test
branches on a flag instead of being copied per backend. Emulators start once per session on
free ports; each test gets its own bucket and its own Firestore project, so no data leaks
between tests and nothing needs resetting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localdev.emulators import FakeGcs, FirestoreEmulator
from localdev.process import LocalServer
from shared import factory
from tests.conftest import Api, base_env, gcs_client, storage_snapshot

BACKENDS = ("embedded", "cloud")


class EmbeddedBackend:
    """Local disk + SQLite."""

    name = "embedded"
    local_signed_links = True
    atomic_folder_moves = True  # one SQLite transaction, whatever the folder's size

    def __init__(self, storage: Path) -> None:
        self.storage = storage

    def env(self) -> dict[str, str]:
        return {"METADATA_BACKEND": "sqlite", "MEDIA_GCS_BUCKET_NAME": ""}

    def blob_snapshot(self) -> dict[str, int]:
        """Every stored blob, staging included: proof that nothing was stored."""
        return storage_snapshot(self.storage) if self.storage.exists() else {}

    def blob_exists(self, storage_path: str) -> bool:
        return (self.storage / storage_path.removeprefix("local://")).is_file()

    def fetch(self, api: Api, url: str) -> tuple[int, bytes, dict[str, str]]:
        """GET a download link the service issued, without credentials."""
        parts = urlsplit(url)
        response = api.client.get(f"{parts.path}?{parts.query}")
        return response.status_code, response.data, dict(response.headers)


class CloudBackend:
    """GCS (fake-gcs-server) + Firestore (emulator)."""

    name = "cloud"
    local_signed_links = False
    atomic_folder_moves = False  # Firestore: a resumable operation, each file atomic

    def __init__(self, gcs: FakeGcs, firestore: FirestoreEmulator, key_file: Path) -> None:
        self.gcs, self.firestore, self.key_file = gcs, firestore, key_file
        self.bucket = f"ws-{uuid.uuid4().hex[:12]}"
        self.project = f"proj-{uuid.uuid4().hex[:12]}"
        self._client().create_bucket(self.bucket)

    def _client(self):
        return gcs_client(self.gcs.url, self.project)

    def env(self) -> dict[str, str]:
        return {
            "METADATA_BACKEND": "firestore",
            "MEDIA_GCS_BUCKET_NAME": self.bucket,
            "STORAGE_EMULATOR_HOST": self.gcs.url,
            "FIRESTORE_EMULATOR_HOST": self.firestore.host_port,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "GCS_SIGNING_KEY_FILE": str(self.key_file),
        }

    def blob_snapshot(self) -> dict[str, int]:
        return {blob.name: blob.size for blob in self._client().list_blobs(self.bucket)}

    def blob_exists(self, storage_path: str) -> bool:
        name = storage_path.removeprefix(f"gcs://{self.bucket}/")
        return self._client().bucket(self.bucket).blob(name).exists()

    def fetch(self, api: Api, url: str) -> tuple[int, bytes, dict[str, str]]:
        response = requests.get(url, timeout=30)
        return response.status_code, response.content, dict(response.headers)


@pytest.fixture(scope="session")
def cloud_services(fake_gcs: FakeGcs, firestore_emulator: FirestoreEmulator,
                   tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[FakeGcs, FirestoreEmulator, Path]:
    """The session's fake-gcs-server and Firestore emulator, and a signing key."""
    from localdev.gcs_keys import write_service_account_key

    return fake_gcs, firestore_emulator, write_service_account_key(
        tmp_path_factory.mktemp("cloud") / "sa-key.json")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    """One backend pair per parametrized run."""
    if request.param == "embedded":
        return EmbeddedBackend(tmp_path / "storage")
    gcs, firestore, key_file = request.getfixturevalue("cloud_services")
    return CloudBackend(gcs, firestore, key_file)


@pytest.fixture
def env(backend, tmp_path: Path, clamd, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """This process configured for the backend under test and the session clamd."""
    values = {**base_env(tmp_path / "storage", clamd.port), **backend.env()}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    factory.reset()
    yield values
    factory.reset()


@pytest.fixture
def api(env: dict[str, str]) -> Api:
    """An in-process client of every function, mounted as in production."""
    from localdev.server import build_app

    return Api(Client(build_app(), Response))


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra settings for ``servers``; a test module overrides this fixture to add some."""
    return {}


@pytest.fixture
def servers(backend, tmp_path: Path, clamd, server_env: dict[str, str]
            ) -> Iterator[list[LocalServer]]:
    """Two real server processes on the same backends."""
    values = {**base_env(tmp_path / "shared-storage", clamd.port), **backend.env(),
              **server_env}
    started: list[LocalServer] = []
    try:
        for index in range(2):
            started.append(LocalServer(tmp_path / f"server{index}", values).start(timeout=30))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def download(api: Api, backend):
    """GET a file's content as a client would: following the 302 to GCS where there is one.

    Returns ``(status, body, headers)``; the headers are the final response's.
    """

    def fetch(file_id: str, user: str = "alice", query: str = "",
              headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        response = api.get(f"/files/{file_id}/content{query}", user=user, headers=headers or {})
        if response.status_code == 302:
            return backend.fetch(api, response.headers["Location"])
        return response.status_code, response.data, dict(response.headers)

    return fetch
