"""Issue 12 on both backends: ``/logs?q=``, log retention with a clock we control, and search
totals that are exact or say they are a lower bound.
"""

from __future__ import annotations

from shared import factory
from shared.metadata.firestore import search as firestore_search
from shared.models import LogQuery
from shared.timeutil import plus_seconds, utcnow
from tests.metadata_helpers import entry


def test_q_filters_logs_by_words_with_the_other_filters_and_pages(api):
    for i in range(12):
        api.upload(b"x", f"quarterly-{i}.txt", headers={"X-Agent-Id": f"a{i % 2}"})
        api.upload(b"y", f"weekly-{i}.txt", headers={"X-Agent-Id": "a0"})
    found = api.get("/logs?q=quarter&operation_type=create&limit=5")
    assert found.status_code == 200
    names = [e["details"]["filename"] for e in found.json]
    assert len(names) == 5 and all(n.startswith("quarterly-") for n in names)
    seen = list(names)
    cursor = found.headers.get("X-Next-Cursor")
    while cursor:
        page = api.get(f"/logs?q=quarter&operation_type=create&limit=5&cursor={cursor}")
        seen += [e["details"]["filename"] for e in page.json]
        cursor = page.headers.get("X-Next-Cursor")
    assert sorted(seen) == sorted(f"quarterly-{i}.txt" for i in range(12))
    combined = api.get("/logs?q=quarterly&agent_id=a1").json
    assert {e["details"]["filename"] for e in combined} == {
        f"quarterly-{i}.txt" for i in range(1, 12, 2)}
    assert api.get("/logs?q=quarterly%20weekly").json == []  # every word must match
    assert api.get("/logs?q=%21%21").status_code == 400  # no searchable words
    jsonl = api.get("/logs?q=weekly&format=jsonl").data.decode().splitlines()
    assert len(jsonl) == 12


def test_old_entries_expire_and_the_summary_names_the_oldest(api, monkeypatch):
    monkeypatch.setenv("LOG_RETENTION_DAYS", "30")
    factory.reset()
    api.upload(b"x", "recent.txt")
    meta = factory.metadata_store()
    ws = factory.file_service().workspace(_ctx()).id
    old = plus_seconds(utcnow(), -40 * 86400)
    for i in range(3):  # written 40 days ago: past the retention
        meta.append_log(ws, entry("read", f"file_{i:06d}", ts=plus_seconds(old, i)))
    summary = api.get("/summary").json["statistics"]
    assert summary["oldest_log_at"] == old and summary["log_retention_days"] == 30
    assert factory.maintenance().expire_logs() == 3
    assert [e["details"].get("filename") for e in api.get("/logs").json] == ["recent.txt"]
    assert api.get("/summary").json["statistics"]["oldest_log_at"] > old
    assert factory.maintenance().run()["logs_expired"] == 0


def test_retention_zero_keeps_everything(api, monkeypatch):
    monkeypatch.setenv("LOG_RETENTION_DAYS", "0")
    factory.reset()
    ws = factory.file_service().workspace(_ctx()).id
    factory.metadata_store().append_log(ws, entry("read", ts="2001-01-01T00:00:00.000000Z"))
    assert factory.maintenance().expire_logs() == 0
    assert len(factory.metadata_store().list_logs(ws, LogQuery()).items) == 1


def test_search_totals_are_exact_or_say_they_are_a_lower_bound(api, backend, monkeypatch):
    for i in range(8):
        api.upload(b"x", f"budget-{i}.txt")
    api.upload(b"x", "budgetary-note.txt")  # a prefix hit, ranked below the whole-word ones
    exact = api.get("/files/search?query=budget&limit=3")
    assert len(exact.json) == 3
    assert exact.headers["X-Total-Count"] == "9"
    assert exact.headers["X-Total-Is-Lower-Bound"] == "false"
    combined = api.get("/search?query=budget&limit=2").json["summary"]
    assert combined["files_count"] == 9 and combined["total_is_lower_bound"] is False
    last = api.get("/files/search?query=budget&limit=9").json
    assert last[-1]["filename"] == "budgetary-note.txt"
    monkeypatch.setattr(firestore_search, "SEARCH_CANDIDATE_CAP", 5)
    capped = api.get("/files/search?query=budget&limit=3")
    combined = api.get("/search?query=budget&limit=2").json["summary"]
    if backend.name == "embedded":  # SQLite ranks and counts every match in SQL: no cap
        assert capped.headers["X-Total-Is-Lower-Bound"] == "false"
        assert capped.headers["X-Total-Count"] == "9"
        assert combined["total_is_lower_bound"] is False and combined["files_count"] == 9
    else:  # Firestore ranks at most the cap's candidates, and says the total is a bound
        assert capped.headers["X-Total-Is-Lower-Bound"] == "true"
        assert int(capped.headers["X-Total-Count"]) == 5
        assert combined["total_is_lower_bound"] is True and combined["files_count"] == 5


def _ctx():
    from shared.context import RequestContext

    return RequestContext("alice")
