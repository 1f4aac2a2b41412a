"""``parse_event``: a GCS finalize notification, from either envelope, as an ``ObjectEvent``.

Two envelopes reach ``scan_uploaded_file`` (DESIGN.md, data flow 3):

- Eventarc's ``google.cloud.storage.object.v1.finalized``: ``data`` is the object resource
  (``bucket``, ``name``, ``generation``, ``size``), the CloudEvent ``time`` the event time;
- ``google.cloud.pubsub.topic.v1.messagePublished``, which functions-framework makes of a raw
  Pub/Sub push (the local path: fake-gcs-server → Pub/Sub emulator → push): the GCS
  notification is ``data.message`` with ``attributes`` (``bucketId``, ``objectId``,
  ``objectGeneration``, ``eventType``, ``eventTime``) and the object JSON base64 in ``data``.

Anything else (other types, other GCS event types, malformed payloads) parses to None and is
acknowledged without effect: retrying a permanently malformed event would never succeed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.models import ObjectRef

FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class ObjectEvent:
    """One finalized object generation, its size, and when GCS said it happened."""

    ref: ObjectRef
    size: int | None
    event_time: datetime | None


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return None


def _object_event(resource: Mapping[str, Any], when: datetime | None) -> ObjectEvent | None:
    bucket, name = resource.get("bucket"), resource.get("name")
    generation = _int(resource.get("generation"))
    if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
        return None
    if generation is None or generation <= 0:
        return None
    return ObjectEvent(ObjectRef(bucket, name, generation), _int(resource.get("size")), when)


def parse_event(event_type: str, event_time: str | None, data: Any) -> ObjectEvent | None:
    """The finalized object an event is about, or None when it is not one."""
    if not isinstance(data, Mapping):
        return None
    if event_type == FINALIZED:
        when = _time(event_time) or _time(data.get("timeCreated"))
        return _object_event(data, when)
    if event_type != PUBSUB:
        return None
    message = data.get("message")
    if not isinstance(message, Mapping):
        return None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping) or attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    resource: dict[str, Any] = {}
    raw = message.get("data")
    if isinstance(raw, str) and raw:
        try:
            decoded = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            decoded = None
        if isinstance(decoded, dict):
            resource = decoded
    # The attributes are authoritative for identity; the payload only adds the size.
    resource = {**resource, "bucket": attributes.get("bucketId"),
                "name": attributes.get("objectId"),
                "generation": attributes.get("objectGeneration")}
    when = _time(attributes.get("eventTime")) or _time(message.get("publishTime")) \
        or _time(event_time)
    return _object_event(resource, when)
