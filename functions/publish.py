"""The ``publish_events`` CloudEvent function: drain the event outbox to Pub/Sub.

Eventarc calls it when an outbox document is created in Firestore
(``workspaces/{ws}/events/{id}``); the event itself is only the nudge: it publishes every
pending event, oldest first, under a lease (``shared.outbox.publisher``), so concurrent
calls do not publish out of order and a crashed drain is resumed by the next. Raising
(Pub/Sub unavailable) makes Eventarc retry; the sweep drains too, as a backstop.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import factory

MAX_SECONDS = 50.0


@functions_framework.cloud_event
def publish_events(event: Any) -> None:
    """Entry point: publish what is pending."""
    factory.event_publisher().drain(max_seconds=MAX_SECONDS)
