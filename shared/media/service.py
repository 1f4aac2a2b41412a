"""``MediaService``: ``store_media_file`` and ``clean_exec_files`` (the media pipeline).

``store`` takes any input (see ``sources``), and:

1. streams remote bytes through ``Ingest`` into a staging file outside every exec dir,
   capping the size, hashing, sniffing the MIME type and scanning in the same pass (local
   inputs, already in the exec dir, are scanned in place and deleted when infected);
2. after a clean verdict only, links the file into ``{root}/{user}/{graph_exec_id}/``;
3. answers in the requested ``return_format``: a path relative to the exec dir, a data URI,
   or, for block output in a session, a ``workspace://<file_id>#<mime>`` reference to a copy
   saved under ``/sessions/{session_id}/`` (data URI outside a session);
4. writes one operation-log entry (``create``, or ``scan`` for a rejected file) carrying the
   agent and task.

A dirty verdict is a 422, an unreachable scanner a 503, an oversize input a 413 as soon as
the cap is passed; none of them leaves a byte in the exec dir. Stale exec dirs (older than
``MEDIA_EXEC_TTL_SECONDS``) are swept opportunistically, since each serverless instance has
its own ``/tmp``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import mimetypes
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shared import mime
from shared.config import Settings
from shared.context import RequestContext
from shared.errors import BadRequest, Conflict, Infected
from shared.files.ingest import Ingest
from shared.files.service import FileService
from shared.media.body import read_media_body
from shared.media.datauri import DataUri
from shared.media.execdir import ExecDirs, LocalFile, check_exec_id, sanitize_filename
from shared.media.fetch import Fetcher, too_large
from shared.media.gcs_input import GcsInput
from shared.media.sources import Incoming, Sources, data_details, kind_of
from shared.metadata.base import new_log_id
from shared.models import BlobFacts, FileRecord, LogEntry
from shared.scanning.base import SCAN_READ_BYTES, Scanner, Verdict, ingress, report
from shared.timeutil import utcnow
from shared.validation import check_session_id

log = logging.getLogger(__name__)

RETURN_FORMATS = ("for_local_processing", "for_external_api", "for_block_output")
STORE_FIELDS = {"file", "return_format", "graph_exec_id", "session_id"}
ENCODE_CHUNK = 3 * 256 * 1024  # a multiple of 3: base64 pieces join without padding
SAVE_ATTEMPTS = 4


@dataclass(frozen=True)
class ExecutionContext:
    """Who runs the execution, which one, and (in a chat session) where outputs are saved."""

    user_id: str
    graph_exec_id: str
    session_id: str | None = None
    agent_id: str | None = None
    task_id: str | None = None

    @classmethod
    def from_request(cls, ctx: RequestContext, graph_exec_id: str,
                     session_id: str | None = None) -> ExecutionContext:
        """The HTTP caller's context; a body ``session_id`` wins over ``X-Session-Id``."""
        return cls(ctx.user_id, check_exec_id(graph_exec_id),
                   check_session_id(session_id) if session_id else ctx.session_id,
                   ctx.agent_id, ctx.task_id)

    @property
    def request(self) -> RequestContext:
        """The workspace-side view of this context."""
        return RequestContext(self.user_id, self.agent_id, self.task_id, self.session_id)


@dataclass(frozen=True)
class StagedData:
    """A data URI from a request body, already decoded into ``ingest`` (not finished)."""

    ingest: Ingest
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredMedia:
    """A stored input: the exec-dir file and the answer in the requested format."""

    form: str                 # "path", "data_uri" or "workspace"
    path: Path                # the file in the exec dir
    relative: str             # its path relative to the exec dir
    mime_type: str
    size_bytes: int
    reference: str | None = None

    @property
    def result(self) -> str:
        """The spec's return value (a data URI is built in memory here; HTTP streams it)."""
        if self.form == "path":
            return self.relative
        if self.form == "workspace":
            return self.reference or ""
        return "".join(piece.decode("ascii") for piece in self._data_uri(self._open()))

    def json_chunks(self) -> Iterator[bytes]:
        """``{"result", "mime_type", "size_bytes"}`` as JSON, a data URI streamed from disk.

        The file is opened now, so a concurrent clean cannot break the answer half-way.
        """
        tail = (f', "mime_type": {json.dumps(self.mime_type)}, '
                f'"size_bytes": {self.size_bytes}}}').encode()
        if self.form != "data_uri":
            return iter([b'{"result": ' + json.dumps(self.result).encode() + tail])
        stream = self._open()

        def body() -> Iterator[bytes]:
            yield b'{"result": "'
            yield from self._data_uri(stream)
            yield b'"' + tail

        return body()

    def _open(self) -> Any:
        return open(self.path, "rb")  # closed by _data_uri

    def _data_uri(self, stream: Any) -> Iterator[bytes]:
        with stream:
            yield f"data:{self.mime_type};base64,".encode()
            while chunk := stream.read(ENCODE_CHUNK):
                yield base64.b64encode(chunk)


class MediaService:
    """The media pipeline over one deployment's workspace, scanner and exec root."""

    def __init__(self, settings: Settings, files: FileService, scanner: Scanner,
                 fetcher: Fetcher, gcs: GcsInput | None = None,
                 exec_dirs: ExecDirs | None = None) -> None:
        self.settings = settings
        self.files = files
        self.scanner = scanner
        self.max_bytes = settings.max_file_size_bytes
        self.max_body_bytes = settings.media_max_body_bytes
        self.dirs = exec_dirs or ExecDirs(settings.media_exec_root)
        self.ttl = settings.media_exec_ttl_seconds
        # Without a reader every gcs:// input is refused (403), whatever the allow-list.
        self.gcs = gcs or GcsInput(settings.media_gcs_allowed_buckets, None)
        self.sources = Sources(files, fetcher, self.gcs)
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    # -- store --------------------------------------------------------------------------
    def store_body(self, ctx: RequestContext, stream: IO[bytes], content_type: str | None,
                   content_length: int | None) -> StoredMedia:
        """``POST /media``, the body read as it arrives (``shared.media.body``): a data URI
        is decoded, scanned and staged on the way, so memory stays flat whatever its size."""
        staged: list[StagedData] = []

        def stage(uri: DataUri) -> None:
            data = StagedData(Ingest(self.dirs.store, self.scanner, self.max_bytes),
                              data_details(uri))
            staged.append(data)
            for chunk in uri.chunks(self.max_bytes):
                data.ingest.write(chunk)

        try:
            body = read_media_body(stream, content_type, content_length, self.max_body_bytes,
                                   STORE_FIELDS, stage)
            return self.store_request(ctx, body, staged[0] if staged else None)
        finally:
            for data in staged:
                data.ingest.discard()

    def store_request(self, ctx: RequestContext, body: dict[str, Any],
                      staged: StagedData | None = None) -> StoredMedia:
        """A checked JSON body (see ``STORE_FIELDS``) → ``store``."""
        file = body.get("file")
        return_format = body.get("return_format")
        exec_id = body.get("graph_exec_id")
        session_id = body.get("session_id")
        if session_id is not None and not isinstance(session_id, str):
            raise BadRequest("'session_id' must be a string")
        if not isinstance(exec_id, str):
            raise BadRequest("'graph_exec_id' is required and must be a string")
        execution = ExecutionContext.from_request(ctx, exec_id, session_id)
        return self.store(execution, file, return_format, staged)  # type: ignore[arg-type]

    def store(self, ctx: ExecutionContext, file: str, return_format: str,
              staged: StagedData | None = None) -> StoredMedia:
        """Normalise one input into the exec dir and answer in ``return_format``.

        ``staged``: a data URI's bytes already taken in (``file`` is then its header)."""
        with ingress("media"):
            return self._store(ctx, file, return_format, staged)

    def _store(self, ctx: ExecutionContext, file: str, return_format: str,
               staged: StagedData | None) -> StoredMedia:
        if return_format not in RETURN_FORMATS:
            raise BadRequest(f"return_format must be one of: {', '.join(RETURN_FORMATS)}")
        check_exec_id(ctx.graph_exec_id)
        if ctx.session_id is not None:
            check_session_id(ctx.session_id)
        kind = kind_of(file)
        self.maybe_sweep()
        record: FileRecord | None = None
        if kind == "local":
            relative, facts = self._local(ctx, file)
            details: dict[str, Any] = {"path": relative}
        else:
            data = staged if kind == "data" else None
            opened = (contextlib.nullcontext(Incoming(iter(()), "", data.details)) if data
                      else self.sources.open(kind, file, ctx.request, self.max_bytes))
            with opened as incoming:
                relative, facts = self._intake(ctx, kind, incoming,
                                               data.ingest if data else None)
                details, record = incoming.details, incoming.record
        path = self.dirs.path(ctx.user_id, ctx.graph_exec_id) / relative
        try:
            stored, saved = self._answer(ctx, return_format, path, relative, facts, record)
            self._log_stored(ctx, kind, return_format, stored, facts, details, saved or record)
        except BaseException:
            if kind != "local":  # the call failed as a whole: take back the copy it made
                path.unlink(missing_ok=True)
            raise
        return stored

    def _intake(self, ctx: ExecutionContext, kind: str, incoming: Incoming,
                ingest: Ingest | None = None) -> tuple[str, BlobFacts]:
        ingest = ingest or Ingest(self.dirs.store, self.scanner, self.max_bytes)
        try:
            for chunk in incoming.chunks:
                ingest.write(chunk)
            verdict, facts = ingest.finish(incoming.name_hint)
            if verdict.infected:
                self._reject(ctx, kind, verdict, facts, incoming.details)
            ext = mimetypes.guess_extension(facts.mime_type, strict=False) or ""
            fallback = uuid.uuid4().hex[:12] if kind == "data" else "file"
            name = sanitize_filename(incoming.name_hint, ext, fallback)
            return self.dirs.promote(ingest.staged, ctx.user_id, ctx.graph_exec_id,
                                     name), facts
        finally:
            ingest.discard()

    def _local(self, ctx: ExecutionContext, file: str) -> tuple[str, BlobFacts]:
        local = self.dirs.open_local(ctx.user_id, ctx.graph_exec_id, file)
        try:
            if local.size > self.max_bytes:
                raise too_large(self.max_bytes)
            verdict, facts = self._scan_local(local)
            if verdict.infected:
                local.unlink()
                self._reject(ctx, "local", verdict, facts, {"path": local.relative})
            return local.relative, facts
        finally:
            local.close()

    def _scan_local(self, local: LocalFile) -> tuple[Verdict, BlobFacts]:
        """Scan, hash and sniff a file in place, in one pass of bounded memory."""
        sha, head, size, started = hashlib.sha256(), b"", 0, time.monotonic()
        with self.scanner.open_session() as session:
            while chunk := os.read(local.fd, SCAN_READ_BYTES):
                size += len(chunk)
                if size > self.max_bytes:
                    raise too_large(self.max_bytes)
                sha.update(chunk)
                head = head or chunk[: mime.SNIFF_BYTES]
                session.feed(chunk)
            verdict = session.finish()
        report(verdict, size, int((time.monotonic() - started) * 1000))
        mime_type = mime.sniff(head, local.name)
        return verdict, BlobFacts(size, sha.hexdigest(), mime_type, mime.file_type_of(mime_type))

    def _answer(self, ctx: ExecutionContext, return_format: str, path: Path, relative: str,
                facts: BlobFacts, source: FileRecord | None,
                ) -> tuple[StoredMedia, FileRecord | None]:
        def made(form: str, reference: str | None = None) -> StoredMedia:
            return StoredMedia(form, path, relative, facts.mime_type, facts.size_bytes,
                               reference)

        if return_format == "for_local_processing":
            return made("path"), None
        if return_format == "for_external_api" or ctx.session_id is None:
            return made("data_uri"), None
        record = source if source is not None else self._save(ctx, path)
        return made("workspace", f"workspace://{record.id}#{record.mime_type}"), record

    def _save(self, ctx: ExecutionContext, path: Path) -> FileRecord:
        """Copy an exec-dir file into the session folder (scanned again on the way in, as
        every workspace write is); a taken name gets a suffix, never an overwrite."""
        name = path.name
        for attempt in range(SAVE_ATTEMPTS):
            try:
                with open(path, "rb") as stream:
                    return self.files.write_stream(ctx.request, stream, name, ctx.session_id,
                                                   "media output")
            except Conflict:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                stem, dot, ext = path.name.rpartition(".")
                stem, ext = (stem, f".{ext}") if dot else (path.name, "")
                name = f"{stem}-{uuid.uuid4().hex[:8]}{ext}"
        raise AssertionError("unreachable")

    # -- logging ------------------------------------------------------------------------
    def _append(self, ctx: ExecutionContext, op: str, resource_id: str | None,
                details: dict[str, Any]) -> None:
        ws = self.files.workspace(ctx.request)
        self.files.meta.append_log(ws.id, LogEntry(new_log_id(), utcnow(), op, "file",
                                                   resource_id, details, ctx.agent_id,
                                                   ctx.task_id, ctx.session_id))

    def _reject(self, ctx: ExecutionContext, kind: str, verdict: Verdict, facts: BlobFacts,
                details: dict[str, Any]) -> None:
        signature = verdict.signature or "unknown"
        self._append(ctx, "scan", None, {
            "media": "store", "verdict": "infected", "signature": signature, "source": kind,
            "graph_exec_id": ctx.graph_exec_id, "size_bytes": facts.size_bytes, **details})
        log.warning("media input rejected: malware %s (source %s, exec %s, agent %s, task %s)",
                    signature, kind, ctx.graph_exec_id, ctx.agent_id, ctx.task_id)
        raise Infected(signature)

    def _log_stored(self, ctx: ExecutionContext, kind: str, return_format: str,
                    stored: StoredMedia, facts: BlobFacts, details: dict[str, Any],
                    record: FileRecord | None) -> None:
        self._append(ctx, "create", record.id if record else None, {
            "media": "store", "source": kind, "return_format": return_format,
            "graph_exec_id": ctx.graph_exec_id, "filename": stored.relative,
            "mime_type": facts.mime_type, "size_bytes": facts.size_bytes,
            "checksum": facts.checksum, **details})
        log.info("media stored: %s -> %s (%s, %d bytes, exec %s, agent %s, task %s)",
                 kind, return_format, facts.mime_type, facts.size_bytes, ctx.graph_exec_id,
                 ctx.agent_id, ctx.task_id)

    # -- cleaning -----------------------------------------------------------------------
    def clean(self, graph_exec_id: str, ctx: ExecutionContext | None = None) -> int:
        """Remove an execution's directory; how many files it held.

        With a context only that user's directory goes, and the removal is logged to their
        workspace; without one (an in-process caller that owns the execution) every user's
        directory of that execution goes.
        """
        check_exec_id(graph_exec_id)
        removed = self.dirs.clean(graph_exec_id, ctx.user_id if ctx else None)
        if ctx is not None:
            self._append(ctx, "delete", None, {"media": "clean", "graph_exec_id": graph_exec_id,
                                               "files_removed": removed})
        log.info("media exec dir cleaned: exec %s, %d files (agent %s, task %s)", graph_exec_id,
                 removed, ctx.agent_id if ctx else None, ctx.task_id if ctx else None)
        return removed

    def sweep(self) -> dict[str, int]:
        """Remove exec dirs older than ``MEDIA_EXEC_TTL_SECONDS`` and staging leftovers."""
        result = self.dirs.sweep(self.ttl)
        if any(result.values()):
            log.info("media sweep: %s", result)
        return result

    def maybe_sweep(self) -> None:
        """Sweep at most every quarter TTL (five minutes at most), from any request."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + min(self.ttl / 4, 300)
        with contextlib.suppress(OSError):
            self.sweep()
