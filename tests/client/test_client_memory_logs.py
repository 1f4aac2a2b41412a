"""The client's memory and log APIs against a real embedded server: optimistic writes, the
append that retries on a conflict (also across two processes), versions, reverts, log
filters, paging, the JSON Lines export and following the log."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from workspace_client import VersionConflict, Workspace

APPENDER = """
import sys
from workspace_client import Workspace
url, token, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with Workspace(url, token, agent_id=name) as ws:
    for n in range(count):
        ws.memory.append(f"\\n- marker {name}-{n};")
"""


def test_set_read_append_versions_and_revert(ws: Workspace) -> None:
    assert ws.memory.get().version == 0
    first = ws.memory.set("# Notes\n")
    assert first.version == 1 and first.length == 8 and not first.truncated
    second = ws.memory.append("\n- fog in frame 1")
    assert second.version == 2
    document = ws.memory.get()
    assert document.content == "# Notes\n\n- fog in frame 1" and document.version == 2
    assert document.max_length == 100000 and document.updated_by == "tester"
    assert [v.version for v in ws.memory.versions()] == [2, 1]
    assert ws.memory.version(1).content == "# Notes\n"
    reverted = ws.memory.revert(1, expected_version=2)
    assert reverted.version == 3 and ws.memory.get().content == "# Notes\n"


def test_a_stale_expected_version_is_a_version_conflict(ws: Workspace) -> None:
    base = ws.memory.set("base").version
    ws.memory.set("newer", expected_version=base)
    with pytest.raises(VersionConflict) as caught:
        ws.memory.set("stale", expected_version=base)
    assert caught.value.status == 409 and caught.value.current_version == base + 1
    assert ws.memory.get().content == "newer"
    with pytest.raises(ValueError):
        ws.memory.set("x", overflow="explode")


def test_append_retries_on_the_version_a_concurrent_writer_made(server, token) -> None:
    with Workspace(server.url, token) as first, Workspace(server.url, token) as second:
        first.memory.set("start")  # ``first`` now believes version 1 is current
        second.memory.append("|second")  # version 2, behind first's back
        result = first.memory.append("|first")  # If-Match: 1 → 409 → retried on 2
        assert result.version == 3
        assert first.memory.get().content == "start|second|first"
        stale = [e for e in first.logs(resource_type="memory", operation_type="update")]
        assert len(stale) == 2  # the refused try changed nothing and logged nothing


def test_two_processes_appending_lose_no_append(server, token) -> None:
    count = 12
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, server.url, token, name,
                               str(count)]) for name in ("alpha", "beta")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with Workspace(server.url, token) as ws:
        document = ws.memory.get()
    missing = [f"{name}-{n};" for name in ("alpha", "beta") for n in range(count)
               if f"marker {name}-{n};" not in document.content]
    assert missing == [] and document.version == 2 * count


def test_log_filters_paging_and_export(ws: Workspace) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    record = ws.upload(b"logged", filename="logged.txt")
    ws.memory.set("m")
    ws.read_bytes(record.id)
    entries = list(ws.logs(page_size=1))  # one entry per page, every page
    assert [e.operation_type for e in entries][:3] == ["read", "create", "create"]
    assert entries[0].resource_id == record.id and entries[0].agent_id == "tester"
    creates = list(ws.logs(operation_type="create", resource_type="file"))
    assert [e.resource_id for e in creates] == [record.id]
    assert creates[0].details["filename"] == "logged.txt"
    assert list(ws.logs(since=started + timedelta(hours=1))) == []
    assert [e.id for e in ws.logs(since=started)] == [e.id for e in entries]
    assert [e.id for e in ws.export_logs()] == [e.id for e in entries]
    assert len(list(ws.export_logs(limit=2))) == 2
    assert [e.id for e in ws.logs(limit=2)] == [e.id for e in entries[:2]]


def test_follow_yields_the_backlog_then_entries_written_later(ws: Workspace, server,
                                                               token) -> None:
    ws.memory.set("before")
    writer = Workspace(server.url, token, agent_id="writer")
    got: list = []

    def later() -> None:
        time.sleep(0.5)
        writer.upload(b"after", filename="after.txt")

    thread = threading.Thread(target=later)
    thread.start()
    deadline = time.monotonic() + 30
    for entry in ws.follow_logs(backlog=1, interval=0.2,
                                stop=lambda: time.monotonic() > deadline):
        got.append(entry)
        if entry.resource_type == "file":
            break
    thread.join()
    writer.close()
    assert got[0].resource_type == "memory" and got[0].details["version"] == 1  # the backlog
    assert got[-1].operation_type == "create" and got[-1].agent_id == "writer"
    assert len({e.id for e in got}) == len(got)  # nothing twice
