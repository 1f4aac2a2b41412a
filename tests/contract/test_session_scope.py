"""``X-Session-Id`` scopes every listing and search the same way, on both backends.

A session sees its own folder's files and the log entries written in it; ``session_id``
names another session and ``include_all_sessions=true`` lifts the scope. The same fixture
is read through all five endpoints so that one endpoint forgetting the rule is caught.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import post_json

MINE = {"X-Session-Id": "mine"}
OTHER = {"X-Session-Id": "other"}


@pytest.fixture
def seeded(api) -> Any:
    """Three "needle" files (session mine, session other, no session) and their log entries."""
    for content, name, headers in ((b"m", "needle-mine.txt", MINE),
                                   (b"o", "needle-other.txt", OTHER),
                                   (b"n", "needle-none.txt", {})):
        assert api.upload(content, name, headers=headers).status_code == 201
    return api


def names(files: list[dict[str, Any]]) -> set[str]:
    return {f["filename"] for f in files}


def files_of(api, query: str, headers: dict[str, str]) -> set[str]:
    """The file names each file endpoint returns; all must agree."""
    listed = api.get(f"/files?{query}", headers=headers)
    found = api.get(f"/files/search?query=needle&{query}", headers=headers)
    combined = api.get(f"/search?query=needle&types=files&limit=50&{query}", headers=headers)
    count = api.get(f"/files/count?{query}", headers=headers)
    assert {listed.status_code, found.status_code, combined.status_code,
            count.status_code} == {200}
    by_list = names(listed.json)
    assert names(found.json) == by_list, "/files/search scopes differently from /files"
    assert names(combined.json["results"]["files"]) == by_list, "/search scopes differently"
    assert count.json["count"] == len(by_list)
    return by_list


def log_files_of(api, query: str, headers: dict[str, str]) -> set[str]:
    """The file names in create entries, from /logs and from /search's logs; both agree."""
    listed = api.get(f"/logs?operation_type=create&{query}", headers=headers)
    combined = api.get(f"/search?query=needle&types=logs&limit=50&{query}", headers=headers)
    assert listed.status_code == combined.status_code == 200
    by_list = {e["details"]["filename"] for e in listed.json}
    assert {e["details"]["filename"] for e in combined.json["results"]["logs"]
            if e["operation_type"] == "create"} == by_list
    return by_list


ALL = {"needle-mine.txt", "needle-other.txt", "needle-none.txt"}


@pytest.mark.parametrize("headers,query,expected", [
    (MINE, "", {"needle-mine.txt"}),
    (OTHER, "", {"needle-other.txt"}),
    ({}, "", ALL),  # no session: no scope
    (MINE, "include_all_sessions=true", ALL),
    (MINE, "session_id=other", {"needle-other.txt"}),
    ({}, "session_id=mine", {"needle-mine.txt"}),
    (MINE, "session_id=other&include_all_sessions=true", {"needle-other.txt"}),
])
def test_every_listing_and_search_scopes_alike(seeded, headers, query, expected):
    assert files_of(seeded, query, headers) == expected
    assert log_files_of(seeded, query, headers) == expected


def test_log_entries_record_the_session(seeded):
    entries = seeded.get("/logs?operation_type=create&include_all_sessions=true").json
    assert {e["details"]["filename"]: e["session_id"] for e in entries} == {
        "needle-mine.txt": "mine", "needle-other.txt": "other", "needle-none.txt": None}


def test_memory_is_shared_by_every_session(api):
    assert post_json(api, "/memory", {"content": "needle in memory"},
                     headers=MINE).status_code in (200, 201)
    found = api.get("/search?query=needle&types=memory", headers=OTHER).json
    assert found["summary"]["memory_matches"] == 1


def test_jsonl_export_is_scoped_too(seeded):
    export = seeded.get("/logs?format=jsonl&operation_type=create", headers=MINE)
    assert export.status_code == 200
    lines = [line for line in export.data.decode().splitlines() if line]
    assert len(lines) == 1 and '"needle-mine.txt"' in lines[0]


@pytest.mark.parametrize("endpoint", ["/files/search?query=x", "/search?query=x", "/logs?",
                                      "/files?", "/files/count?"])
@pytest.mark.parametrize("bad", ["session_id=../x", "session_id=a%2Fb",
                                 "include_all_sessions=maybe"])
def test_bad_scope_parameters_are_400(api, endpoint, bad):
    response = api.get(f"{endpoint}&{bad}".replace("?&", "?"))
    assert response.status_code == 400 and "error" in response.json
