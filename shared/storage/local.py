"""``LocalBlobStore``: blobs as files under ``WORKSPACE_STORAGE_DIR``.

Staging files live in ``.staging/`` on the same file system, so promotion is a ``link`` +
``unlink`` pair: atomic, and create-only (``link`` fails if the target exists, which
``rename`` would silently replace).

Users' bytes are private to the service's account: every directory is 0700 and every file
0600 (``mkstemp``'s mode, kept by the link), whatever the process's umask.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from shared.errors import Conflict, NotFound
from shared.storage.base import BlobStore, StagedBlob, check_key

STAGING_DIR = ".staging"
QUARANTINE_DIR = ".quarantine"
DIR_MODE = 0o700


class LocalStagedBlob(StagedBlob):
    """A temp file in the staging directory."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix="upload-", dir=directory)
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.size = 0

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "staged blob is closed"
        self._file.write(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def discard(self) -> None:
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
        finally:
            self.path.unlink(missing_ok=True)


class LocalBlobStore(BlobStore):
    """Files on local disk; the embedded default."""

    name = "local"
    scheme = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.staging = self.root / STAGING_DIR
        for directory in (self.root, self.staging):
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(directory, DIR_MODE)  # one made before, by an older version or by hand

    def _make_dirs(self, directory: Path) -> None:
        """``directory`` and its missing parents below the root, each 0700 (``mkdir -p``
        gives the parents the umask's default instead)."""
        missing = []
        for path in (directory, *directory.parents):
            if path == self.root or path.is_dir():
                break
            missing.append(path)
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=DIR_MODE)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise NotFound("blob not found")
        return path

    def stage(self, key: str | None = None) -> LocalStagedBlob:
        return LocalStagedBlob(self.staging)  # a rename promotes it: nothing to save

    def promote(self, staged: StagedBlob, key: str) -> None:
        assert isinstance(staged, LocalStagedBlob)
        staged.close()
        target = self._path(key)
        self._make_dirs(target.parent)
        try:
            os.link(staged.path, target)
        except FileExistsError as exc:
            raise Conflict("a blob already exists at that key") from exc
        staged.path.unlink(missing_ok=True)

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound("blob not found") from exc

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for parent in path.parents:
            if parent == self.root:
                break
            try:
                parent.rmdir()
            except OSError:
                break
        return True

    def quarantine(self, key: str, generation: int | None, reason: dict[str, str]) -> str:
        source = self._path(key)
        target = self.root / QUARANTINE_DIR / check_key(key)
        self._make_dirs(self.root / QUARANTINE_DIR)
        self._make_dirs(target.parent)
        try:
            os.replace(source, target)  # same file system: atomic, and repeatable
        except FileNotFoundError as exc:
            if not target.exists():
                raise NotFound("blob not found") from exc
        return f"{self.scheme}://{QUARANTINE_DIR}/{key}"

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def sweep_staging(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.staging.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "root": str(self.root)}
