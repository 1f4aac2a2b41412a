"""``ClamdProcess``: a private clamd on a chosen TCP port, with the project's test signatures.

ClamAV's signature CDN is unreachable from these machines, so the database directory holds
``clamav/test-signatures.ndb`` (detects EICAR) plus any official database Debian's
``clamav`` package left in ``/var/lib/clamav``. clamd runs in its own process group and is
stopped through it (``ManagedProcess``): never pkill.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from localdev.process import ManagedProcess, free_port

__all__ = ["ClamdProcess", "clamd_answers", "find_clamd", "free_port"]

HERE = Path(__file__).resolve().parent
TEST_SIGNATURES = HERE / "clamav" / "test-signatures.ndb"
OFFICIAL_DB_DIR = Path("/var/lib/clamav")
OFFICIAL_SUFFIXES = {".cvd", ".cld", ".cud"}


def find_clamd() -> str | None:
    """The clamd binary (Debian installs it in /usr/sbin, often not on PATH)."""
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(p, os.X_OK)), None)


def clamd_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a clamd at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


class ClamdProcess(ManagedProcess):
    """clamd on ``port``, with limits sized for ``max_file_mb`` and the test signatures."""

    name = "clamd"

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None,
                 max_file_mb: int = 100) -> None:
        super().__init__(workdir, port)
        self.max_file_mb = max_file_mb
        self.conf = self.workdir / "clamd.conf"

    def prepare(self) -> None:
        db = self.workdir / "db"
        tmp = self.workdir / "tmp"
        for folder in (db, tmp):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(TEST_SIGNATURES, db / TEST_SIGNATURES.name)
        if OFFICIAL_DB_DIR.is_dir():
            for item in OFFICIAL_DB_DIR.iterdir():
                target = db / item.name
                if item.suffix in OFFICIAL_SUFFIXES and not target.exists():
                    target.symlink_to(item)
        limit = self.max_file_mb + 8
        scan = min(4 * limit, 4000)  # embedded content counts again: see render-config.sh
        self.conf.write_text(
            "Foreground yes\n"
            f"TCPSocket {self.port}\n"
            "TCPAddr 127.0.0.1\n"
            f"DatabaseDirectory {db}\n"
            f"TemporaryDirectory {tmp}\n"
            f"LogFile {self.workdir / 'clamd.log'}\n"
            "LogTime yes\n"
            f"StreamMaxLength {limit}M\n"
            f"MaxScanSize {scan}M\n"
            f"MaxFileSize {limit}M\n"
            "AlertExceedsMax yes\n"
            "AlertEncrypted yes\n"
            "ConcurrentDatabaseReload no\n"
            "MaxThreads 8\n"
        )

    def command(self) -> list[str]:
        binary = find_clamd()
        if binary is None:
            raise RuntimeError("clamd not found: install Debian's clamav-daemon")
        return [binary, "--config-file", str(self.conf)]

    def answers(self) -> bool:
        return clamd_answers("127.0.0.1", self.port)
