"""The memory service's exact answers and log entries, over HTTP on the embedded backend.

The contract suite (``tests/contract/test_memory_api.py``) proves the behaviour on both
backends; this file pins the shapes a client and an auditor rely on, field by field: the
usage block, the write response, every log entry's details, version parsing and the errors.
"""

from __future__ import annotations

import pytest

from shared import factory
from tests.conftest import API, post_json

AGENT = {"X-Agent-Id": "agent-1", "X-Task-Id": "task-1"}


@pytest.fixture
def capped(api, monkeypatch):
    """A 200-character cap (the smallest allowed) and three kept versions."""
    monkeypatch.setenv("MEMORY_MAX_LENGTH", "200")
    monkeypatch.setenv("MEMORY_HISTORY", "3")
    factory.reset()
    return api


def memory_logs(api, **query: str) -> list[dict]:
    params = "&".join(f"{k}={v}" for k, v in {"resource_type": "memory", **query}.items())
    return api.get(f"/logs?{params}").json


def revert(api, version: str, headers: dict[str, str] | None = None):
    return api.client.post(f"{API}/memory/versions/{version}/revert",
                           headers={**api.headers(), **(headers or {})})


def test_write_append_and_read_answer_and_log_exactly(capped):
    first = post_json(capped, "/memory", {"content": "hello"}, headers=AGENT)
    assert first.status_code == 200
    body = first.json
    assert set(body) == {"success", "length", "max_length", "usage_percent", "is_full",
                         "truncated", "removed_chars", "version", "updated_at"}
    assert (body["success"], body["length"], body["max_length"], body["usage_percent"],
            body["is_full"], body["truncated"], body["removed_chars"], body["version"]) == (
        True, 5, 200, 2.5, False, False, 0, 1)
    appended = post_json(capped, "/memory", {"content": " world", "append": True}).json
    assert (appended["length"], appended["version"]) == (11, 2)
    read = capped.get("/memory", headers=AGENT).json
    assert read["content"] == "hello world" and read["version"] == 2
    assert read["info"] == {"length": 11, "max_length": 200, "usage_percent": 5.5,
                            "is_full": False}
    assert read["updated_by"] == "alice" and read["updated_at"] == appended["updated_at"]

    entries = memory_logs(capped)
    assert [(e["operation_type"], e["resource_id"]) for e in entries] == [
        ("read", "global_memory"), ("update", "global_memory"), ("create", "global_memory")]
    assert entries[0]["details"] == {"length": 11, "version": 2}
    assert (entries[0]["agent_id"], entries[0]["task_id"]) == ("agent-1", "task-1")
    assert entries[1]["details"] == {
        "mode": "append", "overflow": "truncate", "before_length": 5, "after_length": 11,
        "version": 2, "truncated": False, "removed_chars": 0}
    assert (entries[1]["agent_id"], entries[1]["task_id"]) == (None, None)
    assert entries[2]["details"] == {
        "mode": "write", "overflow": "truncate", "before_length": 0, "after_length": 5,
        "version": 1, "truncated": False, "removed_chars": 0}
    assert (entries[2]["agent_id"], entries[2]["task_id"]) == ("agent-1", "task-1")
    history = capped.get("/memory/versions").json
    assert [(v["version"], v["updated_by"]) for v in history] == [(2, "alice"), (1, "agent-1")]


def test_full_and_truncated_answers(capped):
    full = post_json(capped, "/memory", {"content": "f" * 200}).json
    assert (full["is_full"], full["usage_percent"], full["truncated"]) == (True, 100.0, False)
    assert "message" not in full
    cut = post_json(capped, "/memory", {"content": "word. " * 60}).json
    assert cut["truncated"] is True and cut["length"] <= 200
    assert cut["removed_chars"] == 360 - len(capped.get("/memory").json["content"].split(
        "\n\n> [Memory truncated")[0])
    assert cut["message"] == "Content was truncated to fit within max_length"
    dropped = post_json(capped, "/memory", {"content": "\n\n".join(["para " * 12] * 6),
                                            "overflow": "drop_oldest"}).json
    assert dropped["message"] == "Oldest content was removed to fit within max_length"
    entry = memory_logs(capped, operation_type="update")[0]
    assert entry["details"]["overflow"] == "drop_oldest" and entry["details"]["truncated"]
    rejected = post_json(capped, "/memory", {"content": "r" * 201, "overflow": "reject"})
    assert rejected.status_code == 409
    assert rejected.json == {"error": "content would exceed max_length", "max_length": 200,
                             "remaining": 200, "length_needed": 201}


@pytest.mark.parametrize("if_match", ['W/"1"', '"1"', " 1 ", "1"])
def test_if_match_spellings(api, if_match):
    post_json(api, "/memory", {"content": "one"})
    response = post_json(api, "/memory", {"content": "two"}, headers={"If-Match": if_match})
    assert response.status_code == 200 and response.json["version"] == 2


def test_versions_are_checked_and_conflicts_explained(api):
    post_json(api, "/memory", {"content": "one"})
    assert post_json(api, "/memory", {"content": "x"}, headers={"If-Match": ""}).json[
        "version"] == 2  # an empty If-Match is no condition
    stale = post_json(api, "/memory", {"content": "y"}, headers={"If-Match": "1"})
    assert stale.status_code == 409
    assert stale.json == {"error": "memory version is stale", "current_version": 2,
                          "expected_version": 1}
    body_stale = post_json(api, "/memory", {"content": "y", "expected_version": 1})
    assert body_stale.status_code == 409 and body_stale.json["expected_version"] == 1
    both = post_json(api, "/memory", {"content": "y", "expected_version": 2},
                     headers={"If-Match": "2"})
    assert both.status_code == 200 and both.json["version"] == 3
    clash = post_json(api, "/memory", {"content": "y", "expected_version": 3},
                      headers={"If-Match": "2"})
    assert clash.status_code == 400
    assert clash.json == {"error": "If-Match and expected_version disagree"}
    for bad in ("abc", "1234567890123", "-1", "1.5"):
        answer = post_json(api, "/memory", {"content": "z"}, headers={"If-Match": bad})
        assert answer.json == {"error": "If-Match must be a memory version number"}, bad
    assert api.get("/memory/versions/abc").json == {
        "error": "version must be a memory version number"}
    assert api.get("/memory/versions/999999999999").json == {
        "error": "memory version not found"}
    assert post_json(api, "/memory", {"content": "z", "overflow": "explode"}).json == {
        "error": "overflow must be truncate, reject or drop_oldest"}
    assert api.get("/memory").json["version"] == 3


def test_revert_answers_and_logs_exactly(capped):
    for text in ("first", "second", "third"):
        post_json(capped, "/memory", {"content": text})
    assert revert(capped, "9").json == {"error": "memory version not found"}
    assert revert(capped, "x").json == {"error": "version must be a memory version number"}
    stale = revert(capped, "1", {"If-Match": "2"})
    assert stale.status_code == 409 and stale.json["current_version"] == 3
    done = revert(capped, "1", {"If-Match": "3", **AGENT})
    assert done.status_code == 200
    assert (done.json["version"], done.json["length"], done.json["truncated"]) == (4, 5, False)
    assert capped.get("/memory").json["content"] == "first"
    entry = memory_logs(capped, operation_type="update")[0]
    assert entry["details"] == {
        "mode": "revert", "overflow": "truncate", "before_length": 5, "after_length": 5,
        "version": 4, "truncated": False, "removed_chars": 0, "reverted_to": 1}
    assert entry["agent_id"] == "agent-1"
    kept = capped.get("/memory/versions").json
    assert [v["version"] for v in kept] == [4, 3, 2]  # MEMORY_HISTORY=3
    assert kept[0]["operation"] == "revert" and "content" not in kept[0]


def test_reading_one_version_is_logged_as_history(api):
    post_json(api, "/memory", {"content": "kept text"})
    one = api.get("/memory/versions/1", headers=AGENT).json
    assert one["content"] == "kept text" and one["version"] == 1
    entry = memory_logs(api, operation_type="read")[0]
    assert entry["details"] == {"length": 9, "version": 1, "history": True}
    assert entry["agent_id"] == "agent-1"
    assert api.get("/summary").json["statistics"]["memory_length"] == 9


def test_odd_versions_and_empty_content(api):
    post_json(api, "/memory", {"content": "something"})
    assert api.get("/memory/versions/0").json == {"error": "memory version not found"}
    assert revert(api, "0").json == {"error": "memory version not found"}
    assert revert(api, "1", {"If-Match": "abc"}).json == {
        "error": "If-Match must be a memory version number"}
    assert post_json(api, "/memory", {"content": "z"}, headers={"If-Match": "X1"}).json == {
        "error": "If-Match must be a memory version number"}
    emptied = post_json(api, "/memory", {"content": ""})
    assert emptied.status_code == 200 and emptied.json["length"] == 0
    assert api.get("/memory").json["content"] == ""
