"""Where an upload's CPU goes: ``POST /files`` in process, with one piece switched off at a time.

Issue 15 asks for 1.5x the upload rate at four clients on two cores, where the rate is
bound by the server's CPU per upload. This study runs the real app (``build_app``, the
same routing as ``make run``) through werkzeug's test client against a private clamd, one
upload at a time, and measures this process's CPU per upload (``time.process_time``):

- ``as served``: the code as it is (the baseline of every ratio);
- ``no sniff``: libmagic answers at once (what the MIME sniff costs);
- ``no blob fsync``: the staged blob is not ``fsync``ed (what the flush costs here; it is
  part of the durability guarantee in ARCHITECTURE.md, so this is a measure, not an offer);
- ``VERSION once``: clamd's ``VERSION`` asked once instead of per upload (issue 14 keeps it
  per upload, so a scan record names the signatures that judged it);
- ``no search index``: the file is not written to the FTS5 index.

Variants run in turns (every variant once per round, several rounds, medians), so a
machine whose speed drifts during the run shifts them all alike. No HTTP server: what the
server adds on top (gunicorn, the guarded worker, the GIL among 64 threads) is the
difference to ``bench.uploads``' figures. Run it with ``.venv/bin/python -m bench.upload_cpu``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from werkzeug.test import Client as TestClient
from werkzeug.wrappers import Response

from bench.client import Client
from bench.target import SECRET, Target
from bench.workload import file_spec
from localdev.clamd import ClamdProcess


class _InProcess(Client):
    """The bench client, answered by the app in this process instead of over a socket."""

    def __init__(self, app: TestClient, token: str) -> None:
        super().__init__("http://in-process:1", token)
        self.app = app

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, auth: bool = True
                ) -> tuple[int, dict[str, str], bytes]:
        answer = self.app.open(path, method=method, data=body,
                               headers=self.headers(headers, auth))
        return answer.status_code, dict(answer.headers), answer.get_data()


@contextlib.contextmanager
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _variants() -> dict[str, Callable[[], contextlib.AbstractContextManager[None]]]:
    import shared.metadata.sqlite.files as sqlite_files
    import shared.mime as mime
    import shared.storage.local as local
    from shared.scanning.clamd import ClamdScanner

    asked: dict[int, Any] = {}
    version = ClamdScanner.version

    def version_once(scanner: ClamdScanner) -> Any:
        if id(scanner) not in asked:
            asked[id(scanner)] = version(scanner)
        return asked[id(scanner)]

    return {
        "as served": contextlib.nullcontext,
        "no sniff": lambda: _replaced(mime.magic, "from_buffer",
                                      lambda *_a, **_k: "text/plain"),
        "no blob fsync": lambda: _replaced(local.os, "fsync", lambda _fd: None),
        "VERSION once": lambda: _replaced(ClamdScanner, "version", version_once),
        "no search index": lambda: _replaced(sqlite_files, "index_file",
                                             lambda *_a, **_k: None),
    }


def measure(workdir: Path, uploads: int, rounds: int) -> dict[str, dict[str, float]]:
    """CPU ms per upload for each variant (median of ``rounds``), and its ratio."""
    clamd = ClamdProcess(workdir / "clamd").start()
    try:
        os.environ.update({
            "AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET, "LOG_LEVEL": "WARNING",
            "WORKSPACE_STORAGE_DIR": str(workdir / "storage"),
            "CLAMAV_SERVICE_ENABLED": "true", "CLAMAV_SERVICE_HOST": "127.0.0.1",
            "CLAMAV_SERVICE_PORT": str(clamd.port), "MEDIA_EXEC_ROOT": str(workdir / "exec")})
        from localdev.server import build_app

        client = _InProcess(TestClient(build_app(), Response), Target.token("bench_cpu"))
        for i in range(30):
            client.upload(file_spec(5_000_000 + i))  # the workspace, warm caches
        variants = _variants()
        samples: dict[str, list[float]] = {name: [] for name in variants}
        offset = 0
        for _ in range(rounds):
            for name, variant in variants.items():
                with variant():
                    start = time.process_time()
                    for i in range(uploads):
                        client.upload(file_spec(offset + i))
                    samples[name].append(1000 * (time.process_time() - start) / uploads)
                offset += uploads
        base = statistics.median(samples["as served"])
        return {name: {"cpu_ms": statistics.median(values),
                       "vs_as_served": statistics.median(values) / base}
                for name, values in samples.items()}
    finally:
        clamd.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=150, help="uploads per variant a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="upload-cpu-") as tmp:
        results = measure(Path(tmp), args.uploads, args.rounds)
    print(f"{'variant':18s} {'CPU ms/upload':>14s} {'vs as served':>13s}")
    for name, row in results.items():
        print(f"{name:18s} {row['cpu_ms']:14.2f} {row['vs_as_served']:12.2f}x")


if __name__ == "__main__":
    main()
