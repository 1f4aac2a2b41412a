"""``ExecDirs``: the per-execution working directories under ``MEDIA_EXEC_ROOT``.

Layout: ``{root}/{user_key}/{graph_exec_id}/{filename}``. The spec's ``/tmp/exec_file/
{graph_exec_id}/`` gains a per-user level because executions are named by their callers: two
users sending the same ``graph_exec_id`` must never see each other's files, and one user
cannot squat another's execution id. ``user_key`` is a hash, so user ids never appear on disk.

Bytes arrive in ``{root}/.staging/`` (the same file system, outside every exec dir) through a
``LocalBlobStore`` rooted at ``root``, and reach an exec dir only by its create-only
``promote`` (a hard link) after a clean verdict; a failure or a dirty verdict leaves nothing
in the exec dir. Local inputs are opened component by component with ``O_NOFOLLOW`` from the
exec dir, so neither a symlinked file nor a symlinked folder can lead outside it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from shared.errors import BadRequest, Conflict, NotFound
from shared.storage.base import StagedBlob
from shared.storage.local import STAGING_DIR, LocalBlobStore

EXEC_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_NAME_BYTES = 150
_UNSAFE = re.compile(r"[^\w.+-]+")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_exec_id(value: object) -> str:
    """``graph_exec_id`` becomes a directory name: a strict charset, no dots, no slashes."""
    if not isinstance(value, str) or not EXEC_ID_RE.fullmatch(value):
        raise BadRequest("graph_exec_id must be 1-128 letters, digits, '_' or '-'")
    return value


def user_key(user_id: str) -> str:
    """The directory of one user's executions (a hash: ids never reach the file system)."""
    return "u" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


def sanitize_filename(name: str, extension: str = "", fallback: str = "file") -> str:
    """A safe, portable file name: basename only, no dot-file, word characters and ``.+-``.

    ``extension`` (``.png``) is added when the name has none.
    """
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    # No leading '-' either: the name reaches ffmpeg/PIL/shell tools, where it is an option.
    name = _UNSAFE.sub("_", name).strip("._").lstrip("-") or fallback
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = _UNSAFE.sub("", ext)[:16]
    if not ext and extension:
        ext = extension.lstrip(".")
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if _RESERVED.match(stem):
        stem = f"_{stem}"
    return f"{stem}.{ext}" if ext else stem


def check_relative(path: object) -> list[str]:
    """A local input's path, relative to its exec dir, as segments; 400 when it could escape."""
    if not isinstance(path, str) or not path:
        raise BadRequest("the local path must be a non-empty string")
    if path.startswith("/") or "\\" in path or "\x00" in path:
        raise BadRequest("the local path must be relative to the execution's directory")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise BadRequest("the local path must not contain control characters")
    segments = path.split("/")
    for segment in segments:
        if segment in {"", ".", ".."}:
            raise BadRequest("the local path must not contain empty, '.' or '..' segments")
        if len(segment.encode("utf-8")) > 255:
            raise BadRequest("a local path segment is longer than 255 bytes")
    return segments


@dataclass
class LocalFile:
    """A regular file opened inside an exec dir; ``unlink`` removes exactly that entry."""

    fd: int
    parent_fd: int
    name: str
    relative: str
    size: int

    def unlink(self) -> None:
        """Remove the entry this file was opened through (a dirty verdict)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name, dir_fd=self.parent_fd)

    def close(self) -> None:
        """Close both descriptors; never raises."""
        for fd in (self.fd, self.parent_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class ExecDirs:
    """Every execution directory under one root."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.store = LocalBlobStore(self.root)  # staging in {root}/.staging, create-only links

    def path(self, user_id: str, exec_id: str) -> Path:
        """Where an execution's files live (it may not exist yet)."""
        return self.root / user_key(user_id) / check_exec_id(exec_id)

    def ensure(self, user_id: str, exec_id: str) -> Path:
        """Create the execution's directory (0700); refuse one that is not a plain dir."""
        target = self.path(user_id, exec_id)
        for directory in (target.parent, target):
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
            if not stat.S_ISDIR(directory.lstat().st_mode):
                raise Conflict("the execution's directory is not a plain directory")
        return target

    def stage(self) -> StagedBlob:
        """A staging file outside every exec dir."""
        return self.store.stage()

    def promote(self, staged: StagedBlob, user_id: str, exec_id: str, filename: str) -> str:
        """Link clean bytes into the exec dir under ``filename`` (or a suffixed variant when
        the name is taken); returns the name used, relative to the exec dir."""
        self.ensure(user_id, exec_id)
        stem, dot, ext = filename.rpartition(".")
        if not dot:
            stem, ext = filename, ""
        name = filename
        for _attempt in range(8):
            try:
                self.store.promote(staged, f"{user_key(user_id)}/{exec_id}/{name}")
                return name
            except Conflict:
                name = f"{stem}-{uuid.uuid4().hex[:8]}" + (f".{ext}" if ext else "")
        raise Conflict("could not find a free file name in the execution's directory")

    def open_local(self, user_id: str, exec_id: str, relative: str) -> LocalFile:
        """Open a regular file inside the exec dir without following any symlink."""
        segments = check_relative(relative)
        fds: list[int] = []
        try:
            fds.append(os.open(self.root, _OPEN_DIR))
            for part in (user_key(user_id), check_exec_id(exec_id), *segments[:-1]):
                fds.append(os.open(part, _OPEN_DIR, dir_fd=fds[-1]))
            fd = os.open(segments[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, dir_fd=fds[-1])
        except OSError as exc:
            for opened in fds:
                os.close(opened)
            if exc.errno in {errno.ELOOP, errno.ENOTDIR}:
                raise BadRequest("the local path goes through a symlink or a non-directory") \
                    from exc
            raise NotFound("no such file in the execution's directory") from exc
        parent = fds.pop()
        for opened in fds:
            os.close(opened)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            os.close(parent)
            raise BadRequest("the local path is not a regular file")
        os.set_blocking(fd, True)
        return LocalFile(fd, parent, segments[-1], "/".join(segments), info.st_size)

    def clean(self, exec_id: str, user_id: str | None = None) -> int:
        """Remove an execution's directory (every user's when ``user_id`` is None, for
        in-process callers that own the execution); returns how many files went with it."""
        check_exec_id(exec_id)
        if user_id is not None:
            candidates = [self.path(user_id, exec_id)]
        else:
            candidates = [entry / exec_id for entry in self._user_dirs()]
        return sum(_remove(path) for path in candidates)

    def sweep(self, older_than_seconds: float) -> dict[str, int]:
        """Remove exec dirs untouched for ``older_than_seconds`` and staging leftovers."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for user_dir in self._user_dirs():
            for entry in _scandir(user_dir):
                if _newest_mtime(Path(entry.path)) < cutoff:
                    _remove(Path(entry.path))
                    removed += 1
            with contextlib.suppress(OSError):
                user_dir.rmdir()  # only succeeds when empty
        return {"exec_dirs_removed": removed,
                "staging_removed": self.store.sweep_staging(older_than_seconds)}

    def _user_dirs(self) -> list[Path]:
        return [Path(e.path) for e in _scandir(self.root)
                if e.name != STAGING_DIR and e.is_dir(follow_symlinks=False)]


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _newest_mtime(path: Path) -> float:
    """The latest change to a directory or any entry directly in it (without following links)."""
    try:
        newest = path.lstat().st_mtime
    except FileNotFoundError:
        return time.time()
    for entry in _scandir(path) if path.is_dir() and not path.is_symlink() else []:
        with contextlib.suppress(FileNotFoundError):
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def _remove(path: Path) -> int:
    """Delete a directory tree without following symlinks; how many files it held."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        path.unlink(missing_ok=True)  # a symlink or stray file where a dir should be
        return 1
    count = sum(len(files) for _root, _dirs, files in os.walk(path))
    shutil.rmtree(path, ignore_errors=True)  # fd-based on Linux: never follows symlinks
    return count
