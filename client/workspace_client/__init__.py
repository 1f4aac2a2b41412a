"""workspace-client: a typed Python client, the ``ws`` command line and an MCP server for the
agent workspace service.

``Workspace`` is the client; its results are the dataclasses of ``workspace_client.models``
and its failures the exceptions of ``workspace_client.errors`` (re-exported here).
``workspace_client.tools`` exposes the workspace as OpenAI and Anthropic tools.
"""

from __future__ import annotations

from workspace_client.client import Workspace
from workspace_client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Infected,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    RateLimited,
    ScanTimeout,
    ServerError,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    UploadRejected,
    UpstreamError,
    UpstreamTimeout,
    VersionConflict,
    WorkspaceError,
)
from workspace_client.models import (
    ApiKey,
    CreatedKey,
    DownloadLink,
    File,
    FileHit,
    LogEntry,
    MemoryDocument,
    MemoryVersion,
    MemoryWrite,
    SearchResult,
    UploadTicket,
    WorkspaceInfo,
)
from workspace_client.paging import Page
from workspace_client.retry import NO_RETRY, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "NO_RETRY", "ApiKey", "BadRequest", "Conflict", "ConnectionFailed", "CreatedKey",
    "DownloadLink", "File", "FileHit", "Forbidden", "Infected", "LogEntry", "MemoryDocument",
    "MemoryVersion", "MemoryWrite", "MethodNotAllowed", "NotFound", "NotSupported", "Page",
    "RateLimited", "RetryPolicy", "ScanTimeout", "SearchResult", "ServerError", "TooLarge",
    "Unauthorized", "Unavailable", "UnsupportedMediaType", "UploadRejected", "UploadTicket",
    "UpstreamError", "UpstreamTimeout", "VersionConflict", "Workspace", "WorkspaceError",
    "WorkspaceInfo", "__version__",
]
