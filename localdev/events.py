"""The local event path: ``FunctionProcess`` and ``create_push_subscription``.

fake-gcs-server publishes ``OBJECT_FINALIZE`` to a Pub/Sub emulator topic; a push
subscription delivers each message to a ``functions-framework`` process serving
``scan_uploaded_file`` (``--signature-type cloudevent``), which turns the raw push into a
``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent. A non-2xx answer (the function
raised) makes the emulator redeliver, as Eventarc retries in the cloud. ``make dev`` and the
end-to-end tests wire it the same way.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from localdev.process import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent


class FunctionProcess(ManagedProcess):
    """``functions-framework --target T --signature-type S`` on ``main.py``, with ``env``."""

    name = "function"

    def __init__(self, workdir: str | os.PathLike[str], target: str, signature_type: str,
                 env: dict[str, str]) -> None:
        super().__init__(workdir)
        self.target, self.signature_type, self._env = target, signature_type, env
        self.name = f"function-{target}"

    @property
    def url(self) -> str:
        """The function's URL."""
        return f"http://{self.host_port}/"

    def command(self) -> list[str]:
        binary = Path(sys.executable).parent / "functions-framework"
        return [str(binary), "--target", self.target, "--signature-type", self.signature_type,
                "--source", str(ROOT / "main.py"), "--host", "127.0.0.1",
                "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        return self._env

    def cwd(self) -> Path:
        return ROOT


def _put(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(url, method="PUT", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def create_topic(pubsub_host: str, project: str, topic: str) -> None:
    """Create a topic on the Pub/Sub emulator (REST)."""
    _put(f"http://{pubsub_host}/v1/projects/{project}/topics/{topic}", {})


def create_push_subscription(pubsub_host: str, project: str, topic: str, subscription: str,
                             endpoint: str, ack_deadline: int = 30) -> None:
    """Push every message of ``topic`` to ``endpoint`` (REST ``subscriptions.create``).

    The retry policy bounds redelivery backoff, so a failed delivery (scanner down) is
    retried within seconds once the cause is gone.
    """
    _put(f"http://{pubsub_host}/v1/projects/{project}/subscriptions/{subscription}", {
        "topic": f"projects/{project}/topics/{topic}",
        "pushConfig": {"pushEndpoint": endpoint},
        "ackDeadlineSeconds": ack_deadline,
        "retryPolicy": {"minimumBackoff": "1s", "maximumBackoff": "5s"},
    })
