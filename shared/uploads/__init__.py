"""Direct (signed-URL) uploads: the client PUTs to storage; a finalize event scans and registers.

- ``service``: ``DirectUploads``, the one place that reads the capability (a landing zone);
- ``issue``: ``POST /files/upload-url`` (checks, quota, reservation, ticket, signed PUT);
- ``tickets``: what an upload URL promised, persisted as a keyed document;
- ``events``: the finalize notification, from Eventarc or a Pub/Sub push;
- ``locks``: exactly-once processing of at-least-once events;
- ``finalize``: scan the pinned generation, then promote or quarantine, then register;
- ``sweep``: re-drive lost events, expire unused tickets, purge old locks.
"""
