"""The event outbox's services: the feed (``GET /events``) and the publisher that drains the
outbox to Pub/Sub (``publish_events``, the sweep, ``make dev``)."""
