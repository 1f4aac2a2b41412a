"""The local server trusts no clamd it did not start until it proves itself (issue 16, item 6).

A fake clamd that answers PONG and OK let EICAR be stored and served, and parallel runs
attached to each other's clamd on 3310. Now ``make run`` starts a private clamd on a free
port unless ``CLAMAV_SERVICE_PORT`` is set, and a clamd already answering on a given port is
used only after it detects the EICAR test string as ``Workspace.Test.EICAR.UNOFFICIAL``.
The fake here is a tiny TCP server speaking clamd's PING/INSTREAM protocol.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localdev.clamd import TEST_SIGNATURE, clamd_answers, find_clamd
from localdev.process import LocalServer, free_port
from tests.conftest import API, EICAR, Api, base_env, require

ROOT_DIR = Path(__file__).resolve().parent.parent


class FakeClamd:
    """Answers PING with PONG and every INSTREAM with ``stream: OK``."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.scans = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            command = conn.recv(10)
            if command.startswith((b"zPING", b"nPING")):
                conn.sendall(b"PONG\0")
            elif command[1:].startswith(b"INSTREAM"):  # zINSTREAM\0 or nINSTREAM\n
                buffer = command[len(b"zINSTREAM\0"):]
                while True:  # frames until the zero-length one
                    while len(buffer) < 4:
                        buffer += conn.recv(65536)
                    size = struct.unpack("!L", buffer[:4])[0]
                    while len(buffer) < 4 + size:
                        buffer += conn.recv(65536)
                    buffer = buffer[4 + size:]
                    if size == 0:
                        break
                self.scans += 1
                conn.sendall(b"stream: OK\0")
        except OSError:
            return

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def fake_clamd() -> Iterator[FakeClamd]:
    fake = FakeClamd()
    yield fake
    fake.stop()


def _run_until_exit(env: dict[str, str], timeout: float = 30) -> tuple[int | None, str]:
    """Run ``python -m localdev.server`` (picking its own clamd); its exit code (None if it
    was still serving after ``timeout`` and had to be stopped) and its output."""
    proc = subprocess.Popen([sys.executable, "-m", "localdev.server"], cwd=ROOT_DIR,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=10)
        return None, output.decode(errors="replace")


def test_a_fake_clamd_on_the_given_port_is_refused(tmp_path, fake_clamd):
    env = {**base_env(tmp_path / "storage", fake_clamd.port), "PORT": str(free_port())}
    code, output = _run_until_exit(env)
    assert code not in (None, 0), output
    assert TEST_SIGNATURE in output and f"127.0.0.1:{fake_clamd.port}" in output, output
    assert "said it is clean" in output, output
    assert fake_clamd.scans == 1  # it was asked to scan the test string, once


def _upload(server: LocalServer, content: bytes, name: str) -> requests.Response:
    return requests.post(f"{server.url}{API}/files", headers=Api.headers("alice"), timeout=30,
                         files={"file": (name, content)})


def test_a_real_clamd_on_the_given_port_is_checked_and_used(tmp_path, clamd):
    server = LocalServer(tmp_path / "server", base_env(tmp_path / "storage", clamd.port),
                         threads=4, own_clamd=True).start(timeout=60)
    try:
        infected = _upload(server, EICAR, "eicar.txt")
        assert infected.status_code == 422, infected.text
        assert infected.json()["signature"] == TEST_SIGNATURE
        assert _upload(server, b"clean\n", "clean.txt").status_code == 201
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert f"using the clamd already answering on 127.0.0.1:{clamd.port}" in log, log


def test_make_run_starts_a_private_clamd_on_a_free_port(tmp_path, monkeypatch):
    require(find_clamd() is not None, "clamd (Debian's clamav-daemon)")
    monkeypatch.delenv("CLAMAV_SERVICE_PORT", raising=False)
    env = base_env(tmp_path / "storage", 1)
    del env["CLAMAV_SERVICE_PORT"]
    try:  # a stranger on clamd's default port must not be used (when the port is free here)
        stranger: FakeClamd | None = FakeClamd(3310)
    except OSError:
        stranger = None
    server = LocalServer(tmp_path / "server", env, threads=4, own_clamd=True)
    try:
        server.start(timeout=90)
        infected = _upload(server, EICAR, "eicar.txt")
        assert infected.status_code == 422, infected.text
        log = server.log_path.read_text(errors="replace")
        found = re.search(r"started a private clamd on 127\.0\.0\.1:(\d+)", log)
        assert found, log
        port = int(found.group(1))
        assert port != 3310 and clamd_answers("127.0.0.1", port)
        assert f"clamd 127.0.0.1:{port}" in log  # the serving line names it too
        if stranger is not None:
            assert stranger.scans == 0
    finally:
        server.stop()
        if stranger is not None:
            stranger.stop()
    assert not clamd_answers("127.0.0.1", port)  # stopped with the server
    assert (Path(env["WORKSPACE_STORAGE_DIR"]) / ".clamd").is_dir()
