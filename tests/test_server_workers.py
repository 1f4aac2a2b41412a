"""``make run`` serves with one process per CPU (``--workers auto``): the processes share the
storage dir as function instances share a bucket and Firestore, so every write from either
must land exactly once (issue 15: faster uploads at 4 clients, same guarantees).
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from localdev.process import LocalServer, children, cpu_seconds
from tests.conftest import API, Api, base_env


def test_two_processes_serve_and_no_write_is_lost(tmp_path: Path, clamd) -> None:
    env = base_env(tmp_path / "storage", clamd.port)
    server = LocalServer(tmp_path / "server", env, threads=8, workers=2).start(timeout=60)
    try:
        assert server.proc is not None
        deadline = time.monotonic() + 30  # /healthz answers once the first worker is up
        while len(children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = children(server.proc.pid)
        assert len(workers) == 2, workers
        before = {pid: cpu_seconds([pid]) for pid in workers}
        headers = Api.headers("alice")

        def upload(i: int) -> requests.Response:
            with requests.Session() as session:  # a new connection: any process may take it
                return session.post(f"{server.url}{API}/files", headers=headers, timeout=60,
                                    files={"file": (f"f{i}.txt", f"file {i}\n".encode())})

        def append(i: int) -> requests.Response:
            with requests.Session() as session:
                return session.post(f"{server.url}{API}/memory", headers=headers, timeout=60,
                                    json={"content": f"- line {i}\n", "append": True})

        with ThreadPoolExecutor(8) as pool:
            uploads = list(pool.map(upload, range(48)))
            appends = list(pool.map(append, range(48)))
        assert [r.status_code for r in uploads] == [201] * 48, [r.text for r in uploads][:3]
        assert [r.status_code for r in appends] == [200] * 48, [r.text for r in appends][:3]
        numbers = {int(r.json()["id"].rsplit("_", 1)[1]) for r in uploads}
        assert numbers == set(range(1, 49))  # one counter across both processes
        listed = requests.get(f"{server.url}{API}/files", params={"limit": 100},
                              headers=headers, timeout=30).json()
        assert sorted(f["filename"] for f in listed) == sorted(f"f{i}.txt" for i in range(48))
        memory = requests.get(f"{server.url}{API}/memory", headers=headers, timeout=30).json()
        assert all(f"- line {i}\n" in memory["content"] for i in range(48))
        assert memory["version"] == 48
        # Both processes accept on one socket; which takes a connection is the kernel's
        # choice, so on a loaded machine keep asking (new connections) until both have.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [pid for pid in workers if cpu_seconds([pid]) > before[pid]]
            if len(busy) == 2:
                break
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: requests.get(f"{server.url}{API}/files",
                                                     headers=headers, timeout=30), range(8)))
        assert len(busy) == 2, "both processes served requests"
    finally:
        server.stop()


def test_a_bad_workers_value_is_refused(tmp_path: Path) -> None:
    for value in ("0", "two", "-1"):
        done = subprocess.run([sys.executable, "-m", "localdev.server", "--no-clamd",
                               "--workers", value], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parent.parent)
        assert done.returncode != 0
        assert "--workers must be a positive number or 'auto'" in done.stderr, done.stderr
