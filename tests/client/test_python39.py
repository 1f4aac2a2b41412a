"""The client on the oldest Python it supports: ``pip install ./client`` into a Python 3.9
virtualenv, then the library, the tools and ``ws`` used for real against the server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.client.conftest import ws_env
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
TOOLS_SCRIPT = """
import sys
from workspace_client import Workspace
from workspace_client.tools import ToolDispatcher, anthropic_tools
assert len(anthropic_tools()) == 8
tools = ToolDispatcher(Workspace(sys.argv[1], sys.argv[2]))
assert not tools.call("write_file", {"path": "/py39.txt", "content": "from 3.9"}).is_error
print(tools.call("read_file", {"file": "/py39.txt"}).data["content"])
"""


def python39() -> str | None:
    """A working Python 3.9 interpreter (on PATH, or pyenv's)."""
    found = shutil.which("python3.9")
    candidates = [found] if found else []
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))
    for candidate in candidates:
        done = subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == "
                               "(3, 9)"], capture_output=True, check=False)
        if done.returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def venv39(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python 3.9 virtualenv with ``pip install ./client`` (from a copy of the source)."""
    interpreter = python39()
    require(interpreter is not None, "Python 3.9 (the client's oldest supported version)")
    root = tmp_path_factory.mktemp("py39")
    source = root / "client"
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".ruff_cache"))
    subprocess.run([interpreter, "-m", "venv", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(source)], check=True, capture_output=True)
    return root / "venv" / "bin"


def test_the_client_works_on_python_3_9(venv39: Path, server, token, tmp_path) -> None:
    env = ws_env(server.url, token)

    def ws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv39 / "ws"), *args], capture_output=True, text=True,
                              env=env, timeout=60, check=False)

    local = tmp_path / "old.txt"
    local.write_text("uploaded from Python 3.9\n")
    put = ws("put", str(local), "--path", "/legacy/", "--json")
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["status"] == "ready"
    assert [f["path"] for f in json.loads(ws("ls", "--json").stdout)] == ["/legacy/old.txt"]
    assert ws("mem", "append", "- from 3.9").returncode == 0
    assert ws("mem", "show").stdout == "- from 3.9\n"
    logs = [json.loads(line) for line in ws("logs", "--json").stdout.splitlines()]
    assert {e["operation_type"] for e in logs} >= {"create", "read"}
    tools = subprocess.run([str(venv39 / "python"), "-c", TOOLS_SCRIPT, server.url, token],
                           capture_output=True, text=True, timeout=60, check=False)
    assert tools.returncode == 0, tools.stderr
    assert tools.stdout == "from 3.9\n"
    mcp = ws("mcp")  # the MCP SDK needs 3.10: a clear message, not a traceback
    assert mcp.returncode == 1 and "workspace-client[mcp]" in mcp.stderr
