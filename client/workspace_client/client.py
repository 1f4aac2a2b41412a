"""``Workspace``: the typed client of one agent workspace (files, memory, logs, search, keys).

    ws = Workspace("http://127.0.0.1:8080", token)          # a user's JWT or a wsk_ API key
    record = ws.upload("report.pdf", path="/reports/", tags=["q3"])
    for f in ws.files(tag="q3"):
        print(f.id, f.path, f.status)
    ws.memory.append("\\n- report uploaded")

Results are dataclasses from ``workspace_client.models``; failures raise the typed errors of
``workspace_client.errors``. Requests are retried by one ``RetryPolicy`` (see ``retry``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

from workspace_client import logs as _logs
from workspace_client import transfer
from workspace_client.bodies import Progress
from workspace_client.errors import NotFound
from workspace_client.keys import Keys
from workspace_client.memory import Memory
from workspace_client.models import (
    DownloadLink,
    File,
    FileHit,
    LogEntry,
    SearchResult,
    UploadTicket,
    WorkspaceInfo,
)
from workspace_client.paging import Page, fetch_page, iterate
from workspace_client.retry import RetryPolicy
from workspace_client.transport import DEFAULT_TIMEOUT, Transport

FILE_ID = re.compile(r"^file_\d{6,}$")


class Workspace:
    """One workspace, as seen through a user's token or an API key."""

    def __init__(self, url: str, token: str | None, *, agent_id: str | None = None,
                 task_id: str | None = None, session_id: str | None = None,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None,
                 direct_threshold: int = transfer.DIRECT_THRESHOLD) -> None:
        self.transport = Transport(url, token, agent_id=agent_id, task_id=task_id,
                                   session_id=session_id, timeout=timeout, retry=retry)
        self.memory = Memory(self.transport)
        self.keys = Keys(self.transport)
        self._uploader = transfer.Uploader(self.transport, direct_threshold)

    @classmethod
    def from_env(cls, **options: Any) -> Workspace:
        """From ``WORKSPACE_URL``, ``WORKSPACE_TOKEN`` and (optional) ``WORKSPACE_AGENT_ID``."""
        url = os.environ.get("WORKSPACE_URL")
        if not url:
            raise ValueError("set WORKSPACE_URL (for example http://127.0.0.1:8080)")
        options.setdefault("agent_id", os.environ.get("WORKSPACE_AGENT_ID") or None)
        return cls(url, os.environ.get("WORKSPACE_TOKEN"), **options)

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self.transport.session.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The workspace --------------------------------------------------------------------------
    def info(self) -> WorkspaceInfo:
        """The workspace's id and counts (it is created on first use)."""
        return WorkspaceInfo.from_api(self.transport.json("GET", ""))

    def summary(self) -> WorkspaceInfo:
        """The same with statistics (memory usage ...) in ``raw["statistics"]``."""
        return WorkspaceInfo.from_api(self.transport.json("GET", "/summary"))

    def health(self) -> dict[str, Any]:
        """The public health report (``status`` and each backend)."""
        answer = self.transport.request("GET", f"{self.transport.root}/healthz", auth=False)
        return dict(answer.json())

    # Files ----------------------------------------------------------------------------------
    def files(self, *, tag: str | None = None, tags: Sequence[str] = (),
              file_type: str | None = None, created_by: str | None = None,
              path: str | None = None, session_id: str | None = None,
              include_all_sessions: bool | None = None, page_size: int | None = None,
              limit: int | None = None) -> Iterator[File]:
        """Every matching live file, oldest first, fetched page by page as you iterate."""
        params = _file_filters(tag, tags, file_type, created_by, path, session_id,
                               include_all_sessions)
        return iterate(self.transport, "/files", {**params, "limit": page_size},
                       File.from_api, limit)

    def files_page(self, *, cursor: str | None = None, limit: int | None = None,
                   tag: str | None = None, tags: Sequence[str] = (),
                   file_type: str | None = None, created_by: str | None = None,
                   path: str | None = None, session_id: str | None = None,
                   include_all_sessions: bool | None = None) -> Page[File]:
        """One page of files and the cursor of the next."""
        params = _file_filters(tag, tags, file_type, created_by, path, session_id,
                               include_all_sessions)
        return fetch_page(self.transport, "/files", {**params, "limit": limit, "cursor": cursor},
                          File.from_api)

    def count_files(self, *, tag: str | None = None, tags: Sequence[str] = (),
                    file_type: str | None = None, created_by: str | None = None,
                    path: str | None = None, session_id: str | None = None,
                    include_all_sessions: bool | None = None) -> int:
        """How many live files match (the list's filters)."""
        params = _file_filters(tag, tags, file_type, created_by, path, session_id,
                               include_all_sessions)
        return int(self.transport.json("GET", "/files/count", params=params)["count"])

    def search_files(self, query: str, *, file_type: str | None = None,
                     limit: int | None = None) -> list[FileHit]:
        """Ready files whose name, description or tags match, best first."""
        params = {"query": query, "file_type": file_type, "limit": limit}
        return [FileHit.from_api(h) for h in self.transport.json("GET", "/files/search",
                                                                 params=params)]

    def get_file(self, file_id: str) -> File:
        """A live file's record (``NotFound`` if missing, deleted or not yours)."""
        return File.from_api(self.transport.json("GET", f"/files/{quote(file_id)}"))

    def find(self, path: str) -> File:
        """The live file at a virtual path (``NotFound`` if there is none)."""
        if not path.startswith("/") or path.endswith("/"):
            raise ValueError(f"a file's virtual path starts with '/' and names a file: {path!r}")
        folder = path.rsplit("/", 1)[0] + "/"
        for record in self.files(path=folder):
            if record.path == path:
                return record
        raise NotFound(f"no file at {path}", status=404)

    def resolve(self, id_or_path: str) -> File:
        """A file by id (``file_000001``) or by virtual path (``/notes/a.md``)."""
        return self.get_file(id_or_path) if FILE_ID.match(id_or_path) else self.find(id_or_path)

    def delete_file(self, file_id: str) -> File:
        """Soft-delete a file (its path is free at once); the deleted record."""
        return File.from_api(self.transport.json("DELETE", f"/files/{quote(file_id)}"))

    def upload(self, source: transfer.Source, *, path: str | None = None,
               filename: str | None = None, description: str | None = None,
               tags: Sequence[str] = (), overwrite: bool = False,
               session_id: str | None = None, metadata: dict[str, Any] | None = None,
               created_by: str | None = None, mime_type: str | None = None,
               method: str = "auto", wait: bool = True, wait_timeout: float = 600.0,
               progress: Progress | None = None) -> File:
        """Upload a path, bytes or binary file object, streamed, and return its record.

        ``method``: ``auto`` (direct signed-URL upload for big files when the server offers
        it, otherwise multipart), ``direct`` or ``multipart``. ``wait`` blocks until the
        scan verdict; malware raises ``Infected`` with its ``signature``. ``progress`` is
        called as ``progress(bytes_sent, total)``.
        """
        return self._uploader.upload(
            source, path=path, filename=filename, description=description, tags=tags,
            overwrite=overwrite, session_id=session_id, metadata=metadata,
            created_by=created_by, mime_type=mime_type, method=method, wait=wait,
            wait_timeout=wait_timeout, progress=progress)

    def upload_url(self, filename: str, size_bytes: int, mime_type: str,
                   **fields: Any) -> UploadTicket:
        """Reserve a direct upload yourself (``NotSupported`` on the embedded backend)."""
        return self._uploader.ticket(filename, size_bytes, mime_type, **fields)

    def wait_until_scanned(self, ticket: UploadTicket, timeout: float = 600.0) -> File:
        """Block until a direct upload is ``ready``; ``Infected`` if the scan refused it."""
        return self._uploader.wait(ticket, timeout)

    @property
    def direct_uploads(self) -> bool | None:
        """Whether the server offers direct uploads (``None`` until an upload has asked)."""
        return self._uploader.direct_offered

    def download(self, file_id: str, dest: str | os.PathLike[str] | IO[bytes], *,
                 progress: Progress | None = None) -> int:
        """Stream a file into a path (replaced atomically) or a binary file; bytes written."""
        return transfer.download(self.transport, file_id, dest, progress)

    def read_bytes(self, file_id: str) -> bytes:
        """A file's whole content in memory (use ``download`` for big files)."""
        with transfer.open_content(self.transport, file_id) as answer:
            return answer.content

    def download_link(self, file_id: str, *, inline: bool = False) -> DownloadLink:
        """A short-lived link to the bytes that needs no token."""
        params = {"redirect": False, "inline": inline or None}
        return DownloadLink.from_api(self.transport.json(
            "GET", f"/files/{quote(file_id)}/content", params=params))

    # Logs and search ------------------------------------------------------------------------
    def logs(self, *, operation_type: str | None = None, resource_type: str | None = None,
             resource_id: str | None = None, agent_id: str | None = None,
             task_id: str | None = None, since: datetime | str | None = None,
             until: datetime | str | None = None, page_size: int | None = None,
             limit: int | None = None) -> Iterator[LogEntry]:
        """Matching log entries, newest first, fetched page by page as you iterate."""
        params = _logs.log_params(operation_type, resource_type, resource_id, agent_id,
                                  task_id, since, until)
        return iterate(self.transport, "/logs", {**params, "limit": page_size},
                       LogEntry.from_api, limit)

    def export_logs(self, *, limit: int | None = None, **filters: Any) -> Iterator[LogEntry]:
        """Every matching entry through the streamed JSON Lines export (``format=jsonl``)."""
        return _logs.export_jsonl(self.transport, _logs.log_params(**filters), limit)

    def follow_logs(self, *, backlog: int = 0, interval: float = 1.0,
                    stop: Any = None, **filters: Any) -> Iterator[LogEntry]:
        """The last ``backlog`` entries, then new ones as they are written, oldest first."""
        return _logs.follow(self.transport, _logs.log_params(**filters), backlog=backlog,
                            interval=interval, stop=stop)

    def search(self, query: str, *, types: Sequence[str] | None = None,
               limit: int | None = None) -> SearchResult:
        """One query over files, memory and logs (``types`` picks some of them)."""
        params = {"query": query, "types": list(types) if types else None, "limit": limit}
        return SearchResult.from_api(self.transport.json("GET", "/search", params=params))


def _file_filters(tag: str | None, tags: Sequence[str], file_type: str | None,
                  created_by: str | None, path: str | None, session_id: str | None,
                  include_all_sessions: bool | None) -> dict[str, Any]:
    every = ([tag] if tag else []) + [t for t in tags if t]
    return {"tags": every or None, "file_type": file_type, "created_by": created_by,
            "path": path, "session_id": session_id,
            "include_all_sessions": include_all_sessions}
