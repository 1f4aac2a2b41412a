"""The media pipeline: ``store_media_file`` and ``clean_exec_files`` for in-process callers.

Blocks get files in many forms (data URIs, URLs, workspace references, ``gcs://`` objects,
local paths) and call ``store_media_file`` to have one scanned copy in their execution's
directory, answered as a local path, a data URI, or a workspace reference. The ``media``
HTTP function exposes the same service at ``POST /api/assistant/workspace/media``.
Modules: ``datauri`` (streaming decode), ``netpolicy`` and ``fetch`` (SSRF-safe downloads),
``gcs_source``, ``execdir`` (per-execution directories), ``sources`` and ``service``.
"""

from __future__ import annotations

from shared.media.service import RETURN_FORMATS, ExecutionContext, MediaService, StoredMedia

__all__ = ["RETURN_FORMATS", "ExecutionContext", "MediaService", "StoredMedia",
           "clean_exec_files", "store_media_file"]


def store_media_file(file: str, execution_context: ExecutionContext,
                     return_format: str) -> str:
    """Normalise ``file`` for a block: a path relative to the exec dir
    (``for_local_processing``), a data URI (``for_external_api``), or for
    ``for_block_output`` a ``workspace://<file_id>#<mime>`` reference in a session and a
    data URI otherwise. Raises the service's errors (400/403/404/413/422/502/503)."""
    from shared import factory  # the factory builds the service from settings on first use

    return factory.media_service().store(execution_context, file, return_format).result


def clean_exec_files(graph_exec_id: str,
                     execution_context: ExecutionContext | None = None) -> int:
    """Remove the execution's temp files once it has finished; how many were removed."""
    from shared import factory

    return factory.media_service().clean(graph_exec_id, execution_context)
