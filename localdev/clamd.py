"""``ClamdProcess``: a private clamd on a chosen TCP port, with the project's test signatures.

ClamAV's signature CDN is unreachable from these machines, so the database directory holds
``clamav/test-signatures.ndb`` (detects EICAR) plus any official database Debian's
``clamav`` package left in ``/var/lib/clamav``. clamd runs in its own process group and is
stopped through it: never pkill.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEST_SIGNATURES = HERE / "clamav" / "test-signatures.ndb"
OFFICIAL_DB_DIR = Path("/var/lib/clamav")
OFFICIAL_SUFFIXES = {".cvd", ".cld", ".cud"}


def find_clamd() -> str | None:
    """The clamd binary (Debian installs it in /usr/sbin, often not on PATH)."""
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(p, os.X_OK)), None)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clamd_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a clamd at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


class _ExitedEarly(RuntimeError):
    """clamd stopped before answering (a bad config, or its port was taken)."""


class ClamdProcess:
    """Start with ``start()``, stop with ``stop()``; ``port`` is where it listens."""

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None,
                 max_file_mb: int = 100) -> None:
        self.workdir = Path(workdir).resolve()
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.max_file_mb = max_file_mb
        self.proc: subprocess.Popen[bytes] | None = None

    def _prepare(self) -> Path:
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
        conf = self.workdir / "clamd.conf"
        conf.write_text(
            "Foreground yes\n"
            f"TCPSocket {self.port}\n"
            "TCPAddr 127.0.0.1\n"
            f"DatabaseDirectory {db}\n"
            f"TemporaryDirectory {tmp}\n"
            f"LogFile {self.workdir / 'clamd.log'}\n"
            "LogTime yes\n"
            f"StreamMaxLength {limit}M\n"
            f"MaxScanSize {limit}M\n"
            f"MaxFileSize {limit}M\n"
            "AlertExceedsMax yes\n"
            "AlertEncrypted yes\n"
            "ConcurrentDatabaseReload no\n"
            "MaxThreads 8\n"
        )
        return conf

    def start(self, timeout: float = 90.0) -> ClamdProcess:
        """Launch clamd and wait until it answers PING; raises RuntimeError if it can't.

        A port picked here can be taken by another process before clamd binds it; then
        clamd exits at once and the start is retried on a fresh port.
        """
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except _ExitedEarly:
                if self._fixed_port or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> ClamdProcess:
        binary = find_clamd()
        if binary is None:
            raise RuntimeError("clamd not found: install Debian's clamav-daemon")
        conf = self._prepare()
        log = open(self.workdir / "clamd.out", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([binary, "--config-file", str(conf)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _ExitedEarly(f"clamd exited with {self.proc.returncode}; see "
                                   f"{self.workdir / 'clamd.out'}")
            if clamd_answers("127.0.0.1", self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("clamd did not answer within the timeout")

    def stop(self) -> None:
        """Stop clamd's whole process group: TERM, then KILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
