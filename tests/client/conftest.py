"""Fixtures of the client tests: one real ``make run`` server for the whole package, a fresh
user (so a fresh workspace) per test, and a runner for the installed ``ws`` script.

The server is ``python -m localdev.server`` (embedded backends) with the session's real clamd;
tests never share a workspace, so one server serves them all and the suite stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from workspace_client import Workspace

from localdev.process import LocalServer
from shared.auth import mint_dev_token
from tests.conftest import DEV_SECRET, base_env, require

WS_SCRIPT = Path(sys.executable).with_name("ws")


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, clamd) -> Iterator[LocalServer]:
    """One embedded server (local disk + SQLite + clamd) for every client test."""
    root = tmp_path_factory.mktemp("client-server")
    started = LocalServer(root / "server", base_env(root / "storage", clamd.port)).start(
        timeout=30)
    yield started
    started.stop()


@pytest.fixture
def user() -> str:
    """A fresh user id: a workspace of its own, created on first use."""
    return f"u{uuid.uuid4().hex[:10]}"


@pytest.fixture
def token(user: str) -> str:
    """A dev JWT for ``user``."""
    return mint_dev_token(DEV_SECRET, user)


@pytest.fixture
def ws(server: LocalServer, token: str) -> Iterator[Workspace]:
    """The client on the user's workspace, acting as agent ``tester``."""
    with Workspace(server.url, token, agent_id="tester") as client:
        yield client


def ws_env(url: str, token: str | None) -> dict[str, str]:
    """The environment ``ws`` reads its URL and token from."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORKSPACE_URL", "WORKSPACE_TOKEN", "WORKSPACE_AGENT_ID")}
    env["WORKSPACE_URL"] = url
    if token is not None:
        env["WORKSPACE_TOKEN"] = token
    return env


def run_ws(url: str, token: str | None, *args: str, stdin: bytes | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ws`` script; stdout and stderr as text."""
    require(WS_SCRIPT.exists(), f"the ws script next to {sys.executable} (pip install ./client)")
    done = subprocess.run([str(WS_SCRIPT), *args], input=stdin, capture_output=True,
                          env=ws_env(url, token), timeout=timeout, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))
