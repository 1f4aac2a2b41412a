"""The media pipeline: normalising block inputs into one scanned copy per execution.

Blocks get files in many forms (data URIs, URLs, workspace references, ``gcs://`` objects,
local paths) and ask for one scanned copy in their execution's directory, answered as a
local path, a data URI, or a workspace reference. ``MediaService`` does it; the in-process
entry points ``store_media_file`` and ``clean_exec_files`` are composed in
``shared.factory`` (the composition root), and the ``media`` HTTP function exposes the same
service at ``POST /api/assistant/workspace/media``. Modules: ``body`` (the request body, read
as it arrives), ``datauri`` (streaming decode),
``netpolicy`` and ``fetch`` (SSRF-safe downloads), ``gcs_input``, ``execdir`` (per-execution
directories), ``sources`` and ``service``.
"""

from __future__ import annotations

from shared.media.service import RETURN_FORMATS, ExecutionContext, MediaService, StoredMedia

__all__ = ["RETURN_FORMATS", "ExecutionContext", "MediaService", "StoredMedia"]
