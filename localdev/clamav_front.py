"""``ClamavFront``: the ClamAV HTTP front as a local gunicorn process, for tests and benches.

Docker cannot build here, so the container's app (``functions.clamav_front:app``) runs as a
plain process with the same gunicorn command line as ``infra/clamav/entrypoint.sh``, against
a local clamd (``localdev.clamd.ClamdProcess``). It is a ``ManagedProcess``: its own process
group on a free port, stopped by that group, ready once ``/healthz`` answers.

    .venv/bin/python -m localdev.clamav_front     # clamd + the front on http://127.0.0.1:8090
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from localdev.clamd import ClamdProcess
from localdev.process import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent


def gunicorn_argv(bind: str, threads: int = 8) -> list[str]:
    """The gunicorn command line the container runs too (one process, threads, no timeout:
    a 100 MiB scan may take longer than gunicorn's default 30 s worker timeout)."""
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", "1",
            "--worker-class", "gthread", "--threads", str(threads), "--timeout", "0",
            "--graceful-timeout", "5", "--log-level", "warning",
            "functions.clamav_front:app"]


class ClamavFront(ManagedProcess):
    """The front on ``127.0.0.1:port``, talking to clamd on ``clamd_port``, with ``env``."""

    name = "clamav-front"

    def __init__(self, workdir: str | os.PathLike[str], clamd_port: int,
                 env: dict[str, str] | None = None, port: int | None = None,
                 threads: int = 8) -> None:
        super().__init__(workdir, port)
        self.clamd_port, self._env, self.threads = clamd_port, dict(env or {}), threads

    @property
    def url(self) -> str:
        """The front's base URL."""
        return f"http://{self.host_port}"

    def command(self) -> list[str]:
        return gunicorn_argv(self.host_port, self.threads)

    def env(self) -> dict[str, str]:
        return {"CLAMAV_SERVICE_HOST": "127.0.0.1", "CLAMAV_SERVICE_PORT": str(self.clamd_port),
                "PYTHONUNBUFFERED": "1", **self._env}

    def cwd(self) -> Path:
        return ROOT

    def probe_url(self) -> str:
        return f"{self.url}/healthz"


def main() -> None:
    """Start clamd and the front until Ctrl-C (environment passes through, e.g. auth)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8090")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clamav-front-") as tmp:
        clamd = ClamdProcess(Path(tmp) / "clamd").start()
        front = ClamavFront(Path(tmp) / "front", clamd.port, port=args.port)
        try:
            front.start()
            print(f"ClamAV front on {front.url} (clamd 127.0.0.1:{clamd.port}); Ctrl-C stops")
            assert front.proc is not None
            front.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            front.stop()
            clamd.stop()


if __name__ == "__main__":
    main()
