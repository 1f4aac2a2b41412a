"""The server under test: ``python -m localdev.server`` from a source tree, with its clamd.

By default the tree is this checkout; ``--source DIR`` runs another checkout (its own
``.venv``) with the same workload, so a before/after comparison is one command per tree,
e.g. ``python -m bench.run --source /path/to/baseline-clone``. Only the HTTP API and the
``localdev.server`` command line are relied on, which every version since the baseline has.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from localdev.clamd import ClamdProcess
from localdev.process import ManagedProcess
from shared.auth import mint_dev_token

HERE = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
DB_NAME = ".workspace.sqlite3"


class SourceServer(ManagedProcess):
    """``localdev.server`` of ``source`` on a free port, scanning with a given clamd."""

    name = "server"

    def __init__(self, workdir: Path, source: Path, env: dict[str, str]) -> None:
        super().__init__(workdir)
        self.source, self._env = source, env

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://{self.host_port}"

    def python(self) -> str:
        """The tree's own interpreter (``.venv/bin/python``)."""
        return str(self.source / ".venv" / "bin" / "python")

    def command(self) -> list[str]:
        command = [self.python(), "-m", "localdev.server", "--no-clamd", "--port", str(self.port)]
        # As `make run` serves: one process per CPU where the tree can (older trees ran one).
        if "--workers" in (self.source / "localdev" / "server.py").read_text():
            command += ["--workers", "auto"]
        return command

    def env(self) -> dict[str, str]:
        return {**self._env, "PORT": str(self.port), "PYTHONDONTWRITEBYTECODE": "1"}

    def cwd(self) -> Path:
        return self.source

    def probe_url(self) -> str:
        return f"{self.url}/healthz"


class Target:
    """A storage directory, a clamd and one or more servers of one source tree."""

    def __init__(self, workdir: Path, source: Path = HERE, scanning: bool = True,
                 extra_env: dict[str, str] | None = None) -> None:
        self.workdir, self.source, self.scanning = workdir, source.resolve(), scanning
        self.storage = workdir / "storage"
        self.extra_env = extra_env or {}
        self.clamd: ClamdProcess | None = None
        self.servers: list[SourceServer] = []

    def env(self) -> dict[str, str]:
        """The server's environment (``make run``'s, with a private storage dir)."""
        env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET,
               "WORKSPACE_STORAGE_DIR": str(self.storage), "LOG_LEVEL": "WARNING",
               "CLAMAV_SERVICE_ENABLED": "true" if self.scanning else "false",
               "CLAMAV_SERVICE_HOST": "127.0.0.1",
               "CLAMAV_SERVICE_PORT": str(self.clamd.port if self.clamd else 1),
               "MEDIA_EXEC_ROOT": str(self.workdir / "exec_file")}
        return {**env, **self.extra_env}

    def start(self, servers: int = 1) -> Target:
        """Start clamd (when scanning) and ``servers`` server processes on one storage dir."""
        if self.scanning and self.clamd is None:
            self.clamd = ClamdProcess(self.workdir / "clamd").start()
        for _ in range(servers - len(self.servers)):
            number = len(self.servers)
            server = SourceServer(self.workdir / f"server{number}", self.source, self.env())
            self.servers.append(server.start())
        return self

    def stop(self) -> None:
        """Stop every process this target started."""
        for server in self.servers:
            server.stop()
        self.servers = []
        if self.clamd is not None:
            self.clamd.stop()
            self.clamd = None

    @property
    def url(self) -> str:
        """The first server's base URL."""
        return self.servers[0].url

    @staticmethod
    def token(user: str) -> str:
        """A dev token for ``user``."""
        return mint_dev_token(SECRET, user)

    def database(self) -> sqlite3.Connection:
        """A read-only connection to the server's SQLite file (for full-scan baselines)."""
        uri = f"file:{self.storage / DB_NAME}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def commit(self) -> str:
        """The source tree's commit, for the report."""
        try:
            out = subprocess.run(["git", "-C", str(self.source), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=10, check=True)
            dirty = subprocess.run(["git", "-C", str(self.source), "status", "--porcelain",
                                    "--untracked-files=no"], capture_output=True, text=True,
                                   timeout=10).stdout.strip()
            return out.stdout.strip() + ("+changes" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            return "unknown"
