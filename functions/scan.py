"""The ``scan_uploaded_file`` CloudEvent function: a finalized object in the incoming bucket.

Accepts Eventarc's ``google.cloud.storage.object.v1.finalized`` and, locally, the Pub/Sub
push that functions-framework turns into ``google.cloud.pubsub.topic.v1.messagePublished``.
Returning acknowledges the event; raising (scanner down, a transient backend error, another
delivery holding the object) makes it be redelivered. All logic is in ``shared.uploads``.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import factory
from shared.uploads.events import parse_event


@functions_framework.cloud_event
def scan_uploaded_file(event: Any) -> None:
    """Entry point: parse either envelope, then scan and promote or quarantine."""
    factory.direct_uploads().handle(parse_event(event["type"], event.get("time"), event.data))
