"""``PubSubSink``: events to a Pub/Sub topic, CloudEvents JSON, one ordering key per file.

The message body is the event in CloudEvents structured mode (``content-type:
application/cloudevents+json``); attributes repeat the id, type, subject and workspace so
subscriptions can filter without parsing. The client (``google-cloud-pubsub``, built on first
use: cold starts) publishes with message ordering on, so one file's events are delivered in
order; it talks to the emulator when ``PUBSUB_EMULATOR_HOST`` is set.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.errors import BackendUnavailable
from shared.events import Event
from shared.outbox.publisher import EventSink

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 60.0


class PubSubSink(EventSink):
    """Publishes to ``projects/{project}/topics/{topic}``."""

    def __init__(self, project: str, topic: str) -> None:
        self.topic_path = topic if topic.startswith("projects/") else (
            f"projects/{project}/topics/{topic}")
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The publisher client, with message ordering (built on first use)."""
        if self._client is None:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient(
                publisher_options=pubsub_v1.types.PublisherOptions(
                    enable_message_ordering=True))
        return self._client

    def publish(self, events: list[Event]) -> None:
        futures = []
        for event in events:
            body = json.dumps(event.to_cloudevent(), separators=(",", ":")).encode()
            futures.append((event, self.client.publish(
                self.topic_path, body, ordering_key=event.ordering_key,
                **{"content-type": "application/cloudevents+json", "ce-id": event.id,
                   "ce-type": event.type, "ce-subject": event.subject,
                   "workspaceid": event.workspace_id})))
        failed = []
        for event, future in futures:
            try:
                future.result(timeout=PUBLISH_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - any failure: the drain retries later
                failed.append(event)
                log.error("publishing event %s failed: %s", event.id, exc)
        for key in {e.ordering_key for e in failed}:
            self.client.resume_publish(self.topic_path, key)
        if failed:
            raise BackendUnavailable(f"{len(failed)} event(s) could not be published")
