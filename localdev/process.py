"""``ManagedProcess``: a local service in its own process group, on a free loopback port.

clamd and the emulators all start the same way: launch, wait until a probe answers, and
stop by process group (the gcloud launchers fork Java, so killing only the launcher would
leave it running; never pkill). A port picked here can be taken by another process before
the child binds it; the child then exits at once and the start is retried on a fresh port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a gunicorn master's workers), from ``/proc``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    return [pid] + [found for child in children(pid) for found in process_tree(child)]


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time ``pids`` have spent so far (one that ended counts 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


class ProcessExited(RuntimeError):
    """The child stopped before it answered (a bad configuration, or its port was taken)."""


class ManagedProcess:
    """A child process in its own group; ready when ``answers()`` is true."""

    name = "process"

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The argv to launch (called after ``prepare``)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write whatever the child needs before it starts (configuration files)."""

    def env(self) -> dict[str, str]:
        """Extra environment for the child."""
        return {}

    def cwd(self) -> Path:
        """The child's working directory."""
        return self.workdir

    def probe_url(self) -> str:
        """A URL that answers (any HTTP status) once the service is up."""
        return f"http://{self.host_port}/"

    def answers(self) -> bool:
        """True once the service is ready; by default, any HTTP answer from ``probe_url``."""
        try:
            urllib.request.urlopen(self.probe_url(), timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    @property
    def log_path(self) -> Path:
        """Where the child's stdout and stderr go."""
        return self.workdir / f"{self.name}.out"

    def start(self, timeout: float = 90.0) -> Self:
        """Launch and wait until it answers; RuntimeError if it never does."""
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except ProcessExited:
                if self._fixed_port or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Self:
        self.prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env()}, start_new_session=True,
                                     cwd=self.cwd())
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ProcessExited(f"{self.name} exited with {self.proc.returncode}; "
                                    f"see {self.log_path}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """TERM the whole process group, then KILL it after 10 s."""
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

    def kill(self) -> None:
        """Kill at once (failure tests: a backend that dies mid-request)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class LocalServer(ManagedProcess):
    """``python -m localdev.server`` (every function) with ``env``; with ``own_clamd`` it picks
    its clamd as ``make run`` does (a private one, or a checked one on a given port),
    otherwise it uses the ``CLAMAV_SERVICE_PORT`` it is given as is.

    Tests and benchmarks run real server processes through this, ready once ``/healthz``
    answers.
    """

    name = "server"
    root = Path(__file__).resolve().parent.parent

    def __init__(self, workdir: str | os.PathLike[str], env: dict[str, str],
                 threads: int = 64, own_clamd: bool = False, workers: int = 1) -> None:
        super().__init__(workdir)
        self._env, self.threads, self.own_clamd = env, threads, own_clamd
        self.workers = workers

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host_port}"

    def command(self) -> list[str]:
        clamd = [] if self.own_clamd else ["--no-clamd"]
        return [sys.executable, "-m", "localdev.server", *clamd, "--threads", str(self.threads),
                "--workers", str(self.workers)]

    def env(self) -> dict[str, str]:
        return {**self._env, "PORT": str(self.port)}

    def cwd(self) -> Path:
        return self.root

    def probe_url(self) -> str:
        return f"{self.url}/healthz"
