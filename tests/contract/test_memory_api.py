"""Global memory over HTTP: the spec's shapes, overflow modes, versions, reverts, logging."""

from __future__ import annotations

import pytest

from shared import factory
from tests.conftest import post_json


@pytest.fixture
def small(api, monkeypatch):
    """A 300-character cap so overflow is cheap to reach."""
    monkeypatch.setenv("MEMORY_MAX_LENGTH", "300")
    factory.reset()
    return api


def test_empty_memory_shape(api):
    response = api.get("/memory")
    assert response.status_code == 200
    assert response.json["content"] == ""
    assert response.json["info"] == {"length": 0, "max_length": 100000, "usage_percent": 0.0,
                                     "is_full": False}
    assert response.json["version"] == 0


def test_write_append_read(api):
    first = post_json(api, "/memory", {"content": "# Project Notes\n\nImportant."})
    assert first.status_code == 200
    assert first.json == {"success": True, "length": 27, "max_length": 100000,
                          "usage_percent": 0.03, "is_full": False, "truncated": False,
                          "removed_chars": 0, "version": 1,
                          "updated_at": first.json["updated_at"]}
    post_json(api, "/memory", {"content": "\n\n## Update\n\nNew.", "append": True})
    read = api.get("/memory").json
    assert read["content"] == "# Project Notes\n\nImportant.\n\n## Update\n\nNew."
    assert read["version"] == 2 and read["info"]["length"] == len(read["content"])
    post_json(api, "/memory", {"content": "replaced"})
    assert api.get("/memory").json["content"] == "replaced"


@pytest.mark.parametrize("filler", ["a", "中", "😀"])
def test_truncate_mode_reports_and_stays_within_cap(small, filler):
    text = "# Head\n\n" + filler * 200 + "\n\n# Tail\n\n" + filler * 200
    response = post_json(small, "/memory", {"content": text})
    body = response.json
    assert response.status_code == 200
    assert body["truncated"] is True and body["length"] <= 300
    stored = small.get("/memory").json["content"]
    assert len(stored) <= 300 and stored.startswith("# Head")
    assert "# Tail" not in stored
    assert body["removed_chars"] == len(text) - len(stored.split("\n\n> [Memory truncated")[0])
    assert "message" in body


@pytest.mark.parametrize("filler", ["a", "中", "😀"])
def test_reject_mode_changes_nothing(small, filler):
    post_json(small, "/memory", {"content": filler * 250})
    before = small.get("/memory").json
    response = post_json(small, "/memory",
                         {"content": filler * 60, "append": True, "overflow": "reject"})
    assert response.status_code == 409
    assert response.json["remaining"] == 50 and "error" in response.json
    assert small.get("/memory").json["content"] == before["content"]
    assert small.get("/memory").json["version"] == before["version"]


@pytest.mark.parametrize("filler", ["a", "中", "😀"])
def test_drop_oldest_keeps_new_text_whole(small, filler):
    for index in range(4):
        post_json(small, "/memory", {"content": f"# S{index}\n\n" + filler * 50 + "\n\n",
                                     "append": True})
    new = "# New\n\n" + filler * 80
    response = post_json(small, "/memory",
                         {"content": new, "append": True, "overflow": "drop_oldest"})
    assert response.status_code == 200 and response.json["truncated"] is True
    stored = small.get("/memory").json["content"]
    assert len(stored) <= 300 and stored.endswith(new) and "# S0" not in stored
    assert response.json["removed_chars"] > 0


def test_stale_version_conflicts(api):
    v1 = post_json(api, "/memory", {"content": "one"}).json["version"]
    ok = post_json(api, "/memory", {"content": "two", "expected_version": v1})
    assert ok.status_code == 200
    stale = post_json(api, "/memory", {"content": "three", "expected_version": v1})
    assert stale.status_code == 409 and stale.json["current_version"] == v1 + 1
    header = post_json(api, "/memory", {"content": "four"}, headers={"If-Match": f'"{v1}"'})
    assert header.status_code == 409
    good = post_json(api, "/memory", {"content": "five"}, headers={"If-Match": str(v1 + 1)})
    assert good.status_code == 200
    assert api.get("/memory").json["content"] == "five"


def test_versions_history_and_revert(api, monkeypatch):
    monkeypatch.setenv("MEMORY_HISTORY", "3")
    factory.reset()
    for index in range(5):
        post_json(api, "/memory", {"content": f"text {index}"},
                  headers={"X-Agent-Id": f"agent_{index}"})
    listed = api.get("/memory/versions").json
    assert [v["version"] for v in listed] == [5, 4, 3]
    assert listed[0]["updated_by"] == "agent_4" and "content" not in listed[0]
    assert api.get("/memory/versions/4").json["content"] == "text 3"
    assert api.get("/memory/versions/1").status_code == 404
    reverted = api.client.post("/api/assistant/workspace/memory/versions/3/revert",
                               headers=api.headers())
    assert reverted.status_code == 200 and reverted.json["version"] == 6
    assert api.get("/memory").json["content"] == "text 2"
    assert api.get("/memory/versions/6").json["operation"] == "revert"


def test_memory_operations_are_logged(api):
    hdr = {"X-Agent-Id": "mem_agent", "X-Task-Id": "t1"}
    post_json(api, "/memory", {"content": "abc"}, headers=hdr)
    post_json(api, "/memory", {"content": "def", "append": True}, headers=hdr)
    api.get("/memory", headers=hdr)
    logs = api.get("/logs?resource_type=memory").json
    assert [e["operation_type"] for e in logs] == ["read", "update", "create"]
    update = logs[1]
    assert update["details"]["before_length"] == 3 and update["details"]["after_length"] == 6
    assert update["details"]["version"] == 2 and update["details"]["mode"] == "append"
    assert all(e["agent_id"] == "mem_agent" and e["task_id"] == "t1" for e in logs)


def test_summary_reports_memory_length(api):
    post_json(api, "/memory", {"content": "x" * 5000})
    stats = api.get("/summary").json["statistics"]
    assert stats["memory_length"] == 5000 and stats["memory_usage_percent"] == 5.0
    assert api.get("").json["memory_length"] == 5000


@pytest.mark.parametrize("body,raw,ctype,status", [
    (None, b"{not json", "application/json", 400),
    (None, b"[1, 2]", "application/json", 400),
    (None, b'{"content": "x"}', "text/plain", 415),
    ({"content": 5}, None, None, 400),
    ({"content": None}, None, None, 400),
    ({}, None, None, 400),
    ({"content": "x", "append": "yes"}, None, None, 400),
    ({"content": "x", "append": 1}, None, None, 400),
    ({"content": "x", "overflow": "explode"}, None, None, 400),
    ({"content": "x", "expected_version": "1"}, None, None, 400),
    ({"content": "x", "expected_version": -1}, None, None, 400),
    ({"content": "x", "expected_version": True}, None, None, 400),
    ({"content": "x", "surprise": 1}, None, None, 400),
    (None, b"\xff\xfe", "application/json", 400),
], ids=["not-json", "array", "wrong-type", "content-int", "content-null", "no-content",
        "append-str", "append-int", "bad-overflow", "version-str", "version-negative",
        "version-bool", "unknown-field", "not-utf8"])
def test_bad_bodies_are_400_and_change_nothing(api, body, raw, ctype, status):
    import json

    post_json(api, "/memory", {"content": "keep me"})
    data = raw if raw is not None else json.dumps(body).encode()
    response = api.client.post("/api/assistant/workspace/memory", data=data,
                               headers=api.headers(), content_type=ctype or "application/json")
    assert response.status_code == status
    assert isinstance(response.json["error"], str)
    after = api.get("/memory").json
    assert after["content"] == "keep me" and after["version"] == 1


def test_bad_if_match_and_version_paths(api):
    assert post_json(api, "/memory", {"content": "x"},
                     headers={"If-Match": "abc"}).status_code == 400
    assert api.get("/memory/versions/abc").status_code == 400
    assert api.get("/memory/versions/99").status_code == 404


def test_oversize_body_is_413(api, monkeypatch):
    monkeypatch.setenv("MEMORY_MAX_LENGTH", "1000")
    factory.reset()
    response = post_json(api, "/memory", {"content": "x" * 20000})
    assert response.status_code == 413
    assert api.get("/memory").json["version"] == 0


def test_memory_is_per_user(api):
    post_json(api, "/memory", {"content": "alice secret"})
    assert api.get("/memory", user="bob").json["content"] == ""
    assert api.get("/memory/versions", user="bob").json == []
    assert api.get("/memory/versions/1", user="bob").status_code == 404


def test_revert_never_exceeds_a_lowered_cap(api, monkeypatch):
    """A version written under a larger cap is cut to the current one when it comes back."""
    monkeypatch.setenv("MEMORY_MAX_LENGTH", "1000")
    factory.reset()
    long_text = "\n\n".join(f"## Section {i}\n\n" + "word " * 30 for i in range(6))
    assert 300 < len(long_text) <= 1000
    assert post_json(api, "/memory", {"content": long_text}).status_code == 200
    assert post_json(api, "/memory", {"content": "short"}).status_code == 200
    monkeypatch.setenv("MEMORY_MAX_LENGTH", "300")
    factory.reset()
    reverted = api.client.post("/api/assistant/workspace/memory/versions/1/revert",
                               headers=api.headers())
    assert reverted.status_code == 200, reverted.json
    body = reverted.json
    assert body["truncated"] is True and body["removed_chars"] > 0 and body["message"]
    assert body["length"] <= 300 and body["max_length"] == 300
    current = api.get("/memory").json
    assert len(current["content"]) == body["length"] <= 300
    assert long_text.startswith(current["content"].split("\n\n> [Memory truncated")[0])
    assert current["info"]["is_full"] is (len(current["content"]) >= 300)
    entry = api.get("/logs?resource_type=memory&operation_type=update").json[0]
    assert entry["details"]["mode"] == "revert" and entry["details"]["truncated"] is True
    assert entry["details"]["after_length"] <= 300
