"""``make dev``: the cloud backends on one machine, then every function served against them.

Starts the Pub/Sub emulator (with the finalize topic and the events topic, which the outbox
publisher, ``localdev.publisher``, drains the outbox to), fake-gcs-server (publishing
``OBJECT_FINALIZE`` to that topic), the Firestore emulator, clamd and the ClamAV HTTP front
(as on Cloud Run: every scan goes through it, and the finalize scan is ``POST /scan/gcs``,
so no object byte passes through the function), creates the files,
incoming and quarantine buckets, serves ``scan_uploaded_file`` with functions-framework behind
a push subscription on that topic (the direct-upload event path),
writes a local service-account key for V4 signing, with ``AUTH_MODE=firebase`` starts the
Firebase Auth emulator, prints every URL and serves the functions (and the web app at ``/``)
with ``MEDIA_GCS_BUCKET_NAME`` and ``METADATA_BACKEND=firestore``. Ctrl-C (or
SIGTERM) stops everything it started, by process group.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from localdev import events, firebase_auth
from localdev.clamav_front import ClamavFront
from localdev.clamd import ClamdProcess
from localdev.emulators import FakeGcs, FirestoreEmulator, PubSubEmulator
from localdev.events import FunctionProcess, create_push_subscription
from localdev.gcs_keys import create_buckets, write_service_account_key
from localdev.process import ManagedProcess
from localdev.publisher import PublisherProcess
from shared.logging_config import configure_logging

log = logging.getLogger("localdev.dev")
PROJECT = "workspace-dev"
TOPIC = "gcs-finalize"
EVENTS_TOPIC = "workspace-events"
BUCKET = "workspace-files"
INCOMING = "workspace-incoming"
QUARANTINE = "workspace-quarantine"
SUBSCRIPTION = "scan-uploaded-file"


def create_topic(pubsub: PubSubEmulator, project: str, topic: str) -> None:
    """Create a topic on the Pub/Sub emulator through its REST surface."""
    events.create_topic(pubsub.host_port, project, topic)


def main(argv: list[str] | None = None) -> None:
    """Start the emulators and clamd, then serve every function against them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=os.environ.get("DEV_WORKDIR", ".run/dev"))
    args = parser.parse_args(argv)
    configure_logging()
    root = Path(args.workdir).resolve()
    started: list[ManagedProcess] = []
    try:
        pubsub = PubSubEmulator(root / "pubsub").start()
        started.append(pubsub)
        create_topic(pubsub, PROJECT, TOPIC)
        create_topic(pubsub, PROJECT, EVENTS_TOPIC)
        gcs = FakeGcs(root / "gcs", pubsub=(pubsub.host_port, PROJECT, TOPIC)).start()
        started.append(gcs)
        create_buckets(gcs.url, PROJECT, BUCKET, INCOMING, QUARANTINE)
        firestore = FirestoreEmulator(root / "firestore").start()
        started.append(firestore)
        scanning = os.environ.get("CLAMAV_SERVICE_ENABLED", "true").lower() != "false"
        clamd = ClamdProcess(root / "clamd").start() if scanning else None
        front = None
        if clamd:
            started.append(clamd)
            front = ClamavFront(root / "clamav-front", clamd.port, {
                "STORAGE_EMULATOR_HOST": gcs.url, "GOOGLE_CLOUD_PROJECT": PROJECT,
                "K_SERVICE": "", "CLAMAV_FRONT_AUTH": "none"}).start()
            started.append(front)
        key_file = write_service_account_key(root / "sa-key.json")
        auth = None
        if os.environ.get("AUTH_MODE") == "firebase":  # the web app's real sign-in, locally
            if not firebase_auth.install():
                raise SystemExit("AUTH_MODE=firebase under make dev needs npm (firebase-tools)")
            auth = firebase_auth.AuthEmulator(root / "firebase-auth").start(timeout=120)
            started.append(auth)
            os.environ.setdefault("FIREBASE_PROJECT_ID", firebase_auth.PROJECT)
            os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = auth.host_port
        env = {
            "MEDIA_GCS_BUCKET_NAME": BUCKET,
            "INCOMING_GCS_BUCKET_NAME": INCOMING,
            "QUARANTINE_GCS_BUCKET_NAME": QUARANTINE,
            "METADATA_BACKEND": "firestore",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "STORAGE_EMULATOR_HOST": gcs.url,
            "FIRESTORE_EMULATOR_HOST": firestore.host_port,
            "PUBSUB_EMULATOR_HOST": pubsub.host_port,
            "EVENTS_TOPIC": EVENTS_TOPIC,
            "GCS_SIGNING_KEY_FILE": str(key_file),
            "CLAMAV_SERVICE_HOST": "127.0.0.1",
            "CLAMAV_SERVICE_PORT": str(clamd.port if clamd else 1),
            "CLAMAV_SERVICE_URL": front.url if front else "",
        }
        os.environ.update(env)
        # The finalize path: topic → push subscription → scan_uploaded_file (functions-framework).
        scan = FunctionProcess(root / "scan", "scan_uploaded_file", "cloudevent",
                               dict(os.environ)).start()
        started.append(scan)
        create_push_subscription(pubsub.host_port, PROJECT, TOPIC, SUBSCRIPTION, scan.url)
        started.append(PublisherProcess(root / "publisher", dict(os.environ)).start())
        print("make dev: local cloud stack is up", flush=True)
        print(json.dumps({
            "api": f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/api/assistant/workspace",
            "fake_gcs_server": gcs.url, "firestore_emulator": firestore.host_port,
            "pubsub_emulator": pubsub.host_port, "finalize_topic": f"{PROJECT}/{TOPIC}",
            "events_topic": f"{PROJECT}/{EVENTS_TOPIC}",
            "clamd": f"127.0.0.1:{clamd.port}" if clamd else "disabled",
            "clamav_front": front.url if front else "disabled",
            "web_app": f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/",
            "firebase_auth_emulator": auth.host_port if auth else "off (AUTH_MODE=firebase)",
            "bucket": BUCKET, "incoming_bucket": INCOMING, "quarantine_bucket": QUARANTINE,
            "scan_uploaded_file": scan.url, "push_subscription": f"{PROJECT}/{SUBSCRIPTION}",
            "sweep": "make sweep (same environment)",
            "rescan": "make rescan (same environment)"}, indent=2), flush=True)
        from localdev import server

        server.main(["--no-clamd"])
    finally:
        for process in reversed(started):
            process.stop()
        log.info("stopped %d background processes", len(started))


if __name__ == "__main__":
    main()
