"""``GET /events`` on both backend pairs: the same sequence of events for the same changes.

The feed is the outbox each change writes with it: the sequence below (uploads, an
overwrite, a refused EICAR upload, a delete, a restore, a memory update, a metadata edit) is
the same on SQLite and on Firestore, pages by cursor, is private to its workspace, and
never carries content, names, paths or URLs.
"""

from __future__ import annotations

import json

from tests.conftest import EICAR, post_json


def test_the_same_changes_give_the_same_events(api, backend):
    first = api.upload(b"one", "a.txt").get_json()
    api.upload(b"two", "a.txt", overwrite="true")
    assert api.upload(EICAR, "eicar.txt").status_code == 422  # refused: no state change
    other = api.upload(b"other", "b.txt").get_json()
    assert api.delete(f"/files/{other['id']}").status_code == 200
    assert post_json(api, f"/files/{other['id']}/restore", {}).status_code == 200
    assert post_json(api, "/memory", {"content": "remember this"}).status_code == 200
    patch = api.client.patch(f"/api/assistant/workspace/files/{first['id']}",
                             data=json.dumps({"description": "edited"}),
                             headers=api.headers(), content_type="application/json")
    assert patch.status_code == 200  # an edit is no state change: no event

    events, cursor = [], None
    for _ in range(10):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(f"/events{query}").get_json()
        events += body["events"]
        if not body["events"]:
            assert body["next_cursor"] == cursor  # a poller keeps its place
            break
        cursor = body["next_cursor"]
    assert [(e["type"], e["subject"], e["data"]["version"]) for e in events] == [
        ("workspace.file.ready", first["id"], 1), ("workspace.file.ready", first["id"], 2),
        ("workspace.file.ready", other["id"], 1), ("workspace.file.deleted", other["id"], 1),
        ("workspace.file.restored", other["id"], 1), ("workspace.memory.updated", "memory", 1)]
    assert all(e["specversion"] == "1.0" and e["id"].startswith("evt_") for e in events)
    assert len({e["id"] for e in events}) == len(events)
    assert events[0]["data"]["verdict"] == "clean" and events[0]["data"]["checksum"]
    text = json.dumps(events)
    assert "a.txt" not in text and "remember" not in text and "http" not in text
    assert api.get("/events", user="bob").get_json() == {"events": [], "next_cursor": None}
    assert api.get("/events?cursor=bogus").status_code == 400
    assert api.get("/events?limit=0").status_code == 400
    assert api.get("/events?since=1").status_code == 400
