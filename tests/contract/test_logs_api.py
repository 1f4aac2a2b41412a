"""The operation log: filters, time windows, cursors and the JSON Lines export."""

from __future__ import annotations

import json
import time

from shared.timeutil import utcnow


def _seed(api) -> list[str]:
    ids = []
    for index, agent in enumerate(["writer", "painter", "writer"]):
        hdr = {"X-Agent-Id": agent, "X-Task-Id": f"task_{index}"}
        ids.append(api.upload(f"b{index}".encode(), f"f{index}.txt", headers=hdr).json["id"])
    api.get(f"/files/{ids[0]}/content", headers={"X-Agent-Id": "reader"})
    api.delete(f"/files/{ids[1]}", headers={"X-Agent-Id": "painter"})
    return ids


def test_entries_have_the_spec_shape(api):
    _seed(api)
    entry = api.get("/logs?limit=1").json[0]
    assert set(entry) == {"id", "timestamp", "operation_type", "resource_type", "resource_id",
                          "details", "agent_id", "task_id", "session_id"}
    assert entry["id"].startswith("log_")


def test_filters_combine(api):
    ids = _seed(api)
    assert len(api.get("/logs").json) == 5
    creates = api.get("/logs?operation_type=create").json
    assert [e["resource_id"] for e in creates] == list(reversed(ids))
    writer = api.get("/logs?agent_id=writer&operation_type=create").json
    assert {e["resource_id"] for e in writer} == {ids[0], ids[2]}
    assert [e["operation_type"] for e in api.get("/logs?agent_id=painter").json] == [
        "delete", "create"]
    assert len(api.get("/logs?task_id=task_1").json) == 1
    assert len(api.get("/logs?resource_type=file").json) == 5
    assert api.get("/logs?resource_type=memory").json == []
    assert [e["operation_type"] for e in api.get(f"/logs?resource_id={ids[0]}").json] == [
        "read", "create"]


def test_since_and_until_window(api):
    api.upload(b"a", "a.txt")
    time.sleep(0.01)
    middle = utcnow()
    time.sleep(0.01)
    api.upload(b"b", "b.txt")
    after = api.get(f"/logs?since={middle}").json
    before = api.get(f"/logs?until={middle}").json
    assert [e["details"]["filename"] for e in after] == ["b.txt"]
    assert [e["details"]["filename"] for e in before] == ["a.txt"]
    offset_form = middle.replace("Z", "+00:00")
    assert len(api.get(f"/logs?since={offset_form}").json) == 1


def test_cursor_pages_through_every_entry_once_newest_first(api):
    for index in range(7):
        api.upload(b"x", f"f{index}.txt")
    seen, cursor = [], None
    while True:
        response = api.get("/logs?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += response.json
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert len(seen) == 7 and len({e["id"] for e in seen}) == 7
    stamps = [e["timestamp"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_jsonl_export_streams_all_matching_entries(api, monkeypatch):
    from shared import oplog as logs_module

    monkeypatch.setattr(logs_module, "EXPORT_PAGE", 3)  # force several pages
    for index in range(8):
        api.upload(b"x", f"f{index}.txt")
    response = api.get("/logs?format=jsonl&operation_type=create")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.data.decode().splitlines()]
    assert len(lines) == 8 and len({line["id"] for line in lines}) == 8
    limited = api.get("/logs?format=jsonl&limit=5").data.decode().splitlines()
    assert len(limited) == 5
