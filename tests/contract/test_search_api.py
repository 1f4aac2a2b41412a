"""Combined search across files, memory and logs."""

from __future__ import annotations

from tests.conftest import post_json


def _seed(api) -> str:
    file_id = api.upload(b"img", "frame.png", description="Storyboard generation frame",
                         tags=["scene"], headers={"X-Agent-Id": "storyboard_agent"}).json["id"]
    api.upload(b"doc", "budget.txt", description="Quarterly numbers")
    post_json(api, "/memory", {"content": "# Notes\n\nintro line\nthe storyboard is done\n"
                                          "closing line\n\n## Other\n\nnothing here"})
    return file_id


def test_spec_shape_and_matches_in_every_type(api):
    file_id = _seed(api)
    response = api.get("/search?query=storyboard")
    assert response.status_code == 200
    body = response.json
    assert body["query"] == "storyboard"
    assert [f["id"] for f in body["results"]["files"]] == [file_id]
    matches = body["results"]["memory"]["matches"]
    assert len(matches) == 1
    assert matches[0]["snippet"] == "the storyboard is done"
    assert matches[0]["line_number"] == 4
    assert matches[0]["context"] == "intro line\nthe storyboard is done\nclosing line"
    assert body["summary"]["files_count"] == 1 and body["summary"]["memory_matches"] == 1
    # The upload's log entry mentions the description; the agent id also matches.
    assert body["summary"]["logs_count"] >= 1


def test_log_matches_by_agent_id_and_resource_id(api):
    file_id = _seed(api)
    hits = api.get("/search?query=storyboard_agent&types=logs").json
    assert set(hits["results"]) == {"logs"}
    assert [e["resource_id"] for e in hits["results"]["logs"]] == [file_id]
    by_id = api.get(f"/search?query={file_id}&types=logs").json["results"]["logs"]
    assert by_id and all(e["resource_id"] == file_id for e in by_id)


def test_types_filter_and_limit_per_type(api):
    for index in range(4):
        api.upload(b"x", f"report{index}.txt", description="weekly report")
    body = api.get("/search?query=report&types=files&limit=2").json
    assert set(body["results"]) == {"files"}
    assert len(body["results"]["files"]) == 2 and body["summary"]["files_count"] == 4


def test_search_memory_by_word_prefix_and_chinese(api):
    post_json(api, "/memory", {"content": "第一行\n分镜已经完成\nEnglish line"})
    hits = api.get("/search?query=分镜&types=memory").json["results"]["memory"]["matches"]
    assert [m["line_number"] for m in hits] == [2]
    assert api.get("/search?query=engl&types=memory").json["summary"]["memory_matches"] == 1


def test_never_returns_another_users_data(api):
    _seed(api)
    body = api.get("/search?query=storyboard", user="bob").json
    assert body["results"]["files"] == []
    assert body["results"]["memory"]["matches"] == []
    assert body["results"]["logs"] == []
    assert body["summary"] == {"files_count": 0, "memory_matches": 0, "logs_count": 0,
                               "total_is_lower_bound": False}


def test_bad_search_input(api):
    _seed(api)
    for url in ["/search", "/search?query=", "/search?query=%20%20",
                "/search?query=x&types=files&types=secrets", f"/search?query={'a' * 300}",
                "/search?query=x&limit=0", "/search?query=x&limit=abc", "/search?query=x&bogus=1",
                "/search?query=%21%21%21"]:
        response = api.get(url)
        assert response.status_code == 400, url
        assert isinstance(response.json["error"], str)
