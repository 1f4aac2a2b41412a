"""Files: the file service, the inline-upload state machine and what it is built from.

- ``service``: ``FileService`` (upload entry points, reads, lists, search, delete, links);
- ``upload``: ``InlineUpload``, the steps of an upload whose bytes pass through the service;
- ``drafts``: ``UploadFields``/``FormFields`` → ``FileDraft`` (fields checked once);
- ``multipart``: the streaming form reader; ``ingest``: digest + staging;
- ``maintenance``: purge and sweep.
"""
