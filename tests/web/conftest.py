"""Fixtures of the browser tests: one Chromium per session, one server per backend.

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright. The ``make run`` server is a
``LocalServer`` on the embedded backends with the session clamd; the ``make dev`` server runs
against the local cloud of ``tests/cloud_stack.py`` (fake-gcs-server
publishing finalize events, Firestore, Pub/Sub, clamd, ``scan_uploaded_file``). The Firebase
Auth emulator is ``localdev.firebase_auth`` (firebase-tools from npm), as ``make dev`` runs it.
Screenshots go to ``tests/web/output/`` (or ``WEB_TEST_OUTPUT``).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localdev import firebase_auth
from localdev.firebase_auth import AuthEmulator
from localdev.process import LocalServer
from tests.cloud_stack import Stack  # the make dev stack (the session fixture `stack`)
from tests.conftest import base_env, require

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FIREBASE_PROJECT = firebase_auth.PROJECT


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots go."""
    path = Path(os.environ.get("WEB_TEST_OUTPUT", ROOT / "tests" / "web" / "output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def web_built() -> Path:
    """The app, built (npm ci and node build.mjs, when stale) exactly as make web does."""
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "Node.js and npm")
    from localdev.webapp import build_web

    build_web()
    return WEB / "dist"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    require(Path(CHROMIUM).exists(), "Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def embedded_server(web_built: Path, clamd: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """``make run``: the embedded backends (local disk, SQLite, clamd), dev sign-in."""
    root = tmp_path_factory.mktemp("web-run")
    env = {**base_env(root / "storage", clamd.port), "MAX_FILE_SIZE_MB": "1"}
    server = LocalServer(root, env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthEmulator]:
    require(firebase_auth.install(), "npm and firebase-tools (web/emulator)")
    emulator = AuthEmulator(tmp_path_factory.mktemp("auth-emulator")).start(timeout=120)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def cloud_server(web_built: Path, stack: Stack,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """``make dev``: the same functions on fake-gcs-server, Firestore and Pub/Sub."""
    env = {**stack.env, "MAX_FILE_SIZE_MB": "1"}
    server = LocalServer(tmp_path_factory.mktemp("web-dev"), env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def firebase_server(web_built: Path, stack: Stack, auth_emulator: AuthEmulator,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """``make dev`` with ``AUTH_MODE=firebase`` against the Auth emulator."""
    env = {**stack.env, "AUTH_MODE": "firebase", "FIREBASE_PROJECT_ID": FIREBASE_PROJECT,
           "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host_port}
    server = LocalServer(tmp_path_factory.mktemp("web-firebase"), env).start()
    yield server
    server.stop()


def emulator_users(emulator: AuthEmulator) -> list[dict[str, Any]]:
    """The emulator's accounts, through its own admin endpoint."""
    url = (f"http://{emulator.host_port}/identitytoolkit.googleapis.com/v1/projects/"
           f"{FIREBASE_PROJECT}/accounts:query")
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer owner"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read()).get("userInfo", [])
