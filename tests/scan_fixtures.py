"""Fixtures for scanning tests: the ClamAV front as a real gunicorn process, buckets on the
session fake-gcs-server, a local Google identity, and a clamd of a test's own to kill.

Session fixtures start once for both test modules; each stops its process by process group.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localdev.clamav_front import ClamavFront
from localdev.clamd import ClamdProcess, find_clamd
from localdev.emulators import FakeGcs
from tests.conftest import gcs_client, require
from tests.scanfront.google_identity import FakeGoogleIdentity

MiB = 1024 * 1024
PROJECT = "scan-test"
AUDIENCE = "https://clamav-test-abc123-ew.a.run.app"
INVOKER = "workspace-files@scan-test.iam.gserviceaccount.com"


def front_env(gcs: FakeGcs, **extra: str) -> dict[str, str]:
    """A local front's environment: reads from fake-gcs-server, no auth unless asked."""
    return {"STORAGE_EMULATOR_HOST": gcs.url, "GOOGLE_CLOUD_PROJECT": PROJECT,
            "LOG_LEVEL": "INFO", "K_SERVICE": "", "CLAMAV_FRONT_AUTH": "", **extra}


@pytest.fixture(scope="session")
def front(clamd: ClamdProcess, fake_gcs: FakeGcs,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamavFront]:
    """The front, as a gunicorn process, on the session clamd (limit: 100 MiB)."""
    proc = ClamavFront(tmp_path_factory.mktemp("front"), clamd.port,
                       front_env(fake_gcs)).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def small_front(clamd: ClamdProcess, fake_gcs: FakeGcs,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamavFront]:
    """A front whose size cap is 1 MiB (``MAX_FILE_SIZE_MB=1``)."""
    proc = ClamavFront(tmp_path_factory.mktemp("small-front"), clamd.port,
                       front_env(fake_gcs, MAX_FILE_SIZE_MB="1")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def identity() -> Iterator[FakeGoogleIdentity]:
    """Google's certs and token endpoints, served locally with our own key."""
    server = FakeGoogleIdentity().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_front(clamd: ClamdProcess, fake_gcs: FakeGcs, identity: FakeGoogleIdentity,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamavFront]:
    """A front in production mode (``K_SERVICE`` set): ID tokens required, by default."""
    env = front_env(fake_gcs, K_SERVICE="clamav", CLAMAV_FRONT_AUDIENCE=AUDIENCE,
                    CLAMAV_FRONT_ALLOWED_INVOKERS=f"someone-else@x.iam.gserviceaccount.com,"
                                                  f"{INVOKER.upper()}",
                    CLAMAV_FRONT_CERTS_URL=identity.certs_url)
    proc = ClamavFront(tmp_path_factory.mktemp("auth-front"), clamd.port, env).start()
    yield proc
    proc.stop()


@dataclass
class Outage:
    """A clamd of the test's own and a front on it, so the test may kill clamd."""

    clamd: ClamdProcess
    front: ClamavFront


@pytest.fixture
def outage(tmp_path: Path, fake_gcs: FakeGcs) -> Iterator[Outage]:
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    clamd = ClamdProcess(tmp_path / "clamd").start()
    proc = ClamavFront(tmp_path / "front", clamd.port, front_env(fake_gcs))
    try:
        proc.start()
        yield Outage(clamd, proc)
    finally:
        proc.stop()
        clamd.stop()


@pytest.fixture
def bucket(fake_gcs: FakeGcs) -> Any:
    """A fresh bucket with object versioning, so overwritten generations stay readable."""
    client = gcs_client(fake_gcs.url, PROJECT)
    handle = client.bucket(f"incoming-{uuid.uuid4().hex[:12]}")
    handle.versioning_enabled = True
    return client.create_bucket(handle)


@pytest.fixture
def plain_bucket(fake_gcs: FakeGcs) -> Any:
    """A fresh bucket without versioning: an overwritten generation is gone."""
    client = gcs_client(fake_gcs.url, PROJECT)
    return client.create_bucket(f"plain-{uuid.uuid4().hex[:12]}")


def put(bucket: Any, name: str, data: bytes) -> int:
    """Upload ``data`` and return the generation it created."""
    blob = bucket.blob(name)
    blob.upload_from_string(data)
    assert blob.generation
    return int(blob.generation)
