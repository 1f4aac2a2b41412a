"""Google Cloud Storage: the one package that imports ``google.cloud.storage``.

- ``connection``: ``GcsConnection``, the lazily built client, session, retry and timeout;
- ``errors``: provider errors → service errors (``edge``, ``translate``);
- ``objects``: ``GcsObjects``, every generation-pinned operation (info, streamed reads,
  create-only copies, pinned deletes, listing); ``reader``: ``GcsReader``; ``signing``:
  ``GcsSigner`` (V4 URLs);
- ``upload``: ``GcsStagedBlob``, one streamed create-only upload;
- ``store``: ``GcsBlobStore``, the ``BlobStore`` on top; ``landing``: ``GcsLandingZone``,
  the incoming and quarantine buckets of direct uploads.
"""
