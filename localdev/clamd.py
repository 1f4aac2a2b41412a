"""``ClamdProcess``: a private clamd on a chosen TCP port, with the project's test signatures.

ClamAV's signature CDN is unreachable from these machines, so the database directory holds
``clamav/test-signatures.ndb`` (detects EICAR) plus any official database Debian's
``clamav`` package left in ``/var/lib/clamav``. Unless an official ``daily`` database is
there (its version is then clamd's), the test signatures are written as a versioned
``daily.cud`` (``localdev.signatures``), so ``VERSION`` names a database version, and
``add_signature`` ships a new one: a new signature, the next version, ``RELOAD``. clamd runs
in its own process group and is stopped through it (``ManagedProcess``): never pkill.

``check_test_signature`` is how the local server decides whether to trust a clamd it did not
start: anything can answer PING on a port (a fake that says OK to everything let EICAR be
stored, and parallel runs attached to each other's clamd), so the daemon must prove it has
the project's signature by detecting the EICAR test string as ``TEST_SIGNATURE``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import time
from pathlib import Path

from localdev.process import ManagedProcess, free_port
from localdev.signatures import ndb_line, write_test_db
from shared.errors import WorkspaceError
from shared.scanning.clamd import ClamdScanner

__all__ = [
    "TEST_SIGNATURE",
    "ClamdNotTrusted",
    "ClamdProcess",
    "check_test_signature",
    "clamd_answers",
    "find_clamd",
    "free_port",
]

HERE = Path(__file__).resolve().parent
TEST_SIGNATURES = HERE / "clamav" / "test-signatures.ndb"
OFFICIAL_DB_DIR = Path("/var/lib/clamav")
OFFICIAL_SUFFIXES = {".cvd", ".cld", ".cud"}
TEST_SIGNATURE = "Workspace.Test.EICAR.UNOFFICIAL"
# The EICAR test string, in two halves so that no file in the repository holds it whole.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def official_daily() -> bool:
    """True when Debian's database directory holds an official ``daily`` database."""
    return any((OFFICIAL_DB_DIR / f"daily{suffix}").exists() for suffix in OFFICIAL_SUFFIXES)


class ClamdNotTrusted(RuntimeError):
    """The daemon on a port does not detect the project's test signature."""


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


def check_test_signature(host: str, port: int, timeout: float = 10.0) -> None:
    """Scan the EICAR test string through the service's own clamd client; ``ClamdNotTrusted``
    unless the verdict is FOUND naming ``TEST_SIGNATURE``."""
    where = f"{host}:{port}"
    try:
        verdict = ClamdScanner(host, port, timeout).scan_stream(io.BytesIO(EICAR))
    except WorkspaceError as exc:
        raise ClamdNotTrusted(f"the clamd at {where} could not scan the test file "
                              f"({exc.message})") from exc
    if not verdict.infected or verdict.signature != TEST_SIGNATURE:
        found = f"found {verdict.signature}" if verdict.infected else "said it is clean"
        raise ClamdNotTrusted(
            f"the clamd at {where} {found} for the EICAR test file; a clamd loaded with "
            f"localdev/clamav/test-signatures.ndb reports {TEST_SIGNATURE}. Refusing to use "
            f"it: unset CLAMAV_SERVICE_PORT to start a private clamd, or point it at one "
            f"that has the project's test signature")


class ClamdProcess(ManagedProcess):
    """clamd on ``port``, with limits sized for ``max_file_mb`` and the test signatures."""

    name = "clamd"

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None,
                 max_file_mb: int = 100, db_version: int | None = 1) -> None:
        """``db_version``: the test database's version (None: a plain, unversioned .ndb)."""
        super().__init__(workdir, port)
        self.max_file_mb = max_file_mb
        self.conf = self.workdir / "clamd.conf"
        self.db = self.workdir / "db"
        self.db_version = None if official_daily() else db_version
        self.extra: list[str] = []

    def _write_signatures(self) -> None:
        if self.db_version is None:
            shutil.copy(TEST_SIGNATURES, self.db / TEST_SIGNATURES.name)
        else:
            write_test_db(self.db, TEST_SIGNATURES, self.db_version, self.extra)

    def add_signature(self, name: str, pattern: bytes, timeout: float = 30.0) -> int:
        """Ship a signature update: ``name`` now matches ``pattern``, in the next database
        version, loaded with ``RELOAD``; returns that version once ``VERSION`` reports it."""
        if self.db_version is None:
            raise RuntimeError("an unversioned test database cannot be updated")
        self.db_version += 1
        self.extra.append(ndb_line(name, pattern))
        self._write_signatures()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"zRELOAD\0")
            sock.recv(64)
        scanner = ClamdScanner("127.0.0.1", self.port, timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(WorkspaceError):
                if scanner.db_version() == self.db_version:
                    return self.db_version
            if time.monotonic() > deadline:
                raise RuntimeError(f"clamd did not load database {self.db_version}")
            time.sleep(0.1)

    def prepare(self) -> None:
        db = self.db
        tmp = self.workdir / "tmp"
        for folder in (db, tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._write_signatures()
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
            # A RELOAD (add_signature) swaps the new engine in once it is built; without
            # this clamd first waits for its idle threads to time out (30 s).
            "ConcurrentDatabaseReload yes\n"
            "MaxThreads 8\n"
        )

    def command(self) -> list[str]:
        binary = find_clamd()
        if binary is None:
            raise RuntimeError("clamd not found: install Debian's clamav-daemon")
        return [binary, "--config-file", str(self.conf)]

    def answers(self) -> bool:
        return clamd_answers("127.0.0.1", self.port)
