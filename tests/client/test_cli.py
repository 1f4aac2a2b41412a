"""The ``ws`` command line, run as the installed script against a real embedded server:
uploads with progress, malware, listing, downloads, search, memory, logs (``--follow``),
the documented exit codes and ``--json`` output."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time

from workspace_client import Workspace

from tests.client.conftest import WS_SCRIPT, run_ws, ws_env
from tests.conftest import EICAR

MIB = 1024 * 1024


def test_help_documents_the_exit_codes(server) -> None:
    done = run_ws(server.url, None, "--help")
    assert done.returncode == 0
    for line in ("exit codes:", "3  not authenticated", "6  the file is infected",
                 "7  unavailable or rate limited", "WORKSPACE_TOKEN"):
        assert line in done.stdout


def test_put_shows_progress_waits_and_prints_the_id(server, token, tmp_path) -> None:
    local = tmp_path / "frame1.txt"
    local.write_text("Frame 1: a lighthouse at dusk\n")
    done = run_ws(server.url, token, "put", str(local), "--path", "/story/", "--tag", "a",
                  "--tag", "b", "--description", "Storyboard frame 1", "--progress")
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr  # the progress bar
    file_id, status = done.stdout.split()[:2]
    assert file_id.startswith("file_") and status == "ready"
    assert "/story/frame1.txt" in done.stdout
    listed = json.loads(run_ws(server.url, token, "ls", "--json").stdout)
    assert [(f["id"], f["tags"], f["description"]) for f in listed] == [
        (file_id, ["a", "b"], "Storyboard frame 1")]
    piped = run_ws(server.url, token, "put", "-", "--path", "/in/piped.txt", "--json",
                   stdin=b"from a pipe\n")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["size_bytes"] == 12
    assert "100%" not in piped.stderr  # no bar unless asked for, off a terminal


def test_put_of_50_mib_on_the_embedded_server_goes_multipart(server, token, tmp_path) -> None:
    local = tmp_path / "big.bin"
    with open(local, "wb") as out:
        for n in range(50):
            out.write(bytes([n]) * MIB)
    done = run_ws(server.url, token, "put", str(local), "--json", "--no-progress")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "ready" and record["size_bytes"] == 50 * MIB
    with Workspace(server.url, token) as ws:
        created = list(ws.logs(resource_id=record["id"], operation_type="create"))
    assert len(created) == 1 and created[0].details.get("via") != "upload_url"


def test_put_of_malware_exits_6_with_the_signature(server, token, tmp_path) -> None:
    local = tmp_path / "eicar.txt"
    local.write_bytes(EICAR)
    done = run_ws(server.url, token, "put", str(local))
    assert done.returncode == 6
    assert "Workspace.Test.EICAR.UNOFFICIAL" in done.stderr and done.stdout == ""
    assert json.loads(run_ws(server.url, token, "ls", "--json").stdout) == []


def test_ls_get_stat_rm(server, token, ws: Workspace, tmp_path) -> None:
    ws.upload(b"alpha\n", path="/docs/a.txt", tags=["keep"])
    beta = ws.upload(b"beta\n", path="/docs/b.txt")
    ws.upload(b"other\n", path="/misc/c.txt")
    lines = run_ws(server.url, token, "ls", "--path", "/docs/").stdout.splitlines()
    assert len(lines) == 2
    assert "/docs/a.txt  [keep]" in lines[0] and lines[1].endswith(" /docs/b.txt")
    tagged = run_ws(server.url, token, "ls", "--tag", "keep").stdout
    assert "/docs/a.txt" in tagged and "/docs/b.txt" not in tagged
    assert run_ws(server.url, token, "get", "/docs/b.txt").stdout == "beta\n"
    target = tmp_path / "b-copy.txt"
    done = run_ws(server.url, token, "get", beta.id, "-o", str(target))
    assert done.returncode == 0 and target.read_bytes() == b"beta\n"
    assert "status:       ready" in run_ws(server.url, token, "stat", beta.id).stdout
    assert run_ws(server.url, token, "rm", "/docs/b.txt").stdout.strip() == (
        f"deleted {beta.id} /docs/b.txt")
    missing = run_ws(server.url, token, "get", beta.id)
    assert missing.returncode == 4 and "not found" in missing.stderr


def test_search_and_memory(server, token, tmp_path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe storyboard needs fog.\n")
    done = run_ws(server.url, token, "mem", "set", str(notes))
    assert done.returncode == 0 and done.stdout.startswith("memory version 1:")
    assert run_ws(server.url, token, "mem", "append", "- fog added").returncode == 0
    assert run_ws(server.url, token, "mem", "show").stdout == (
        "# Notes\n\nThe storyboard needs fog.\n- fog added\n")
    shown = json.loads(run_ws(server.url, token, "mem", "show", "--json").stdout)
    assert shown["version"] == 2
    stale = run_ws(server.url, token, "mem", "set", str(notes), "--if-version", "1")
    assert stale.returncode == 5 and "version" in stale.stderr
    found = run_ws(server.url, token, "search", "fog", "--types", "memory")
    assert found.stdout.startswith("memory (2):") and "line 3: The storyboard needs fog." in (
        found.stdout)
    assert "files (" not in found.stdout


def test_logs_filters_and_json_lines(server, token, ws: Workspace) -> None:
    ws.upload(b"x", filename="x.txt")
    ws.memory.set("m")
    lines = run_ws(server.url, token, "logs", "--op", "create", "--agent", "tester",
                   "--json").stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["resource_type"], e["operation_type"]) for e in entries] == [
        ("file", "create"), ("memory", "create")]  # oldest first
    human = run_ws(server.url, token, "logs", "--type", "file").stdout
    assert "create  file  file_" in human and "agent=tester" in human


def test_logs_follow_prints_an_entry_written_after_it_started(server, token,
                                                              ws: Workspace) -> None:
    ws.memory.set("before")
    proc = subprocess.Popen([str(WS_SCRIPT), "logs", "--follow", "--limit", "1",
                             "--interval", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ws_env(server.url, token))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    try:
        first = lines.get(timeout=30)
        assert "memory" in first  # the backlog: following has started
        record = ws.upload(b"late", filename="late.txt")
        deadline, seen = time.monotonic() + 30, []
        while time.monotonic() < deadline and not any(record.id in s for s in seen):
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        assert any(record.id in s and "create" in s for s in seen), seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_auth_failures_exit_3(server) -> None:
    no_token = run_ws(server.url, None, "ls")
    assert no_token.returncode == 3 and "WORKSPACE_TOKEN" in no_token.stderr
    bad = run_ws(server.url, "not-a-jwt", "ls")
    assert bad.returncode == 3 and bad.stderr.startswith("ws: ")


def test_unreachable_server_exits_7(server, token) -> None:
    from localdev.process import free_port

    done = run_ws(f"http://127.0.0.1:{free_port()}", token, "info", "--json", "--retries", "1")
    assert done.returncode == 7
    assert json.loads(done.stderr)["error"].startswith("cannot reach")
