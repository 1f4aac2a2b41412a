"""Workspace isolation: one user can never see, read, find, count, log or delete another's files.

Both users share one storage dir and one database (as in production), and numbering is per
workspace, so both own a ``file_000001``: every lookup must be scoped by workspace, never by
file id alone. Another user's id is a 404, exactly like an id that does not exist.
"""

from __future__ import annotations

import pytest

ALICE_BYTES = b"alice's zebra storyboard\n"
BOB_BYTES = b"bob's own notes\n"


@pytest.fixture
def alice_file(api, download) -> dict:
    """Alice's first file, searchable by the word ``zebra``, with a read and an attribution."""
    response = api.upload(ALICE_BYTES, "zebra_plan.txt", description="The zebra storyboard",
                          tags=["zebra"], headers={"X-Agent-Id": "alice_agent"})
    assert response.status_code == 201
    assert download(response.json["id"])[1] == ALICE_BYTES
    return response.json


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json]


def _not_found(response) -> None:
    assert response.status_code == 404, (response.status_code, response.data[:200])
    assert isinstance(response.json.get("error"), str) and response.json["error"]


def test_numbering_is_per_workspace_and_each_user_reads_only_their_bytes(api, download):
    alice = api.upload(ALICE_BYTES, "same.txt", user="alice")
    bob = api.upload(BOB_BYTES, "same.txt", user="bob")
    # The same path in two workspaces is no conflict, and both get the first number.
    assert alice.status_code == 201 and bob.status_code == 201
    assert alice.json["id"] == bob.json["id"] == "file_000001"
    assert alice.json["path"] == bob.json["path"] == "/same.txt"
    assert download("file_000001", user="alice")[1] == ALICE_BYTES
    assert download("file_000001", user="bob")[1] == BOB_BYTES
    assert api.get("/files/file_000001", user="bob").json["checksum"] == bob.json["checksum"]
    assert alice.json["checksum"] != bob.json["checksum"]
    assert alice.json["file_path"] != bob.json["file_path"], "blobs must not share a key"
    # Each workspace counts on independently.
    assert api.upload(b"2", "two.txt", user="alice").json["id"] == "file_000002"
    assert api.upload(b"2", "two.txt", user="bob").json["id"] == "file_000002"
    # Bob deleting his file_000001 leaves Alice's alone.
    assert api.delete("/files/file_000001", user="bob").status_code == 200
    _not_found(api.get("/files/file_000001", user="bob"))
    assert download("file_000001", user="alice")[1] == ALICE_BYTES


def test_another_users_file_id_is_404_everywhere(api, alice_file, download):
    file_id = alice_file["id"]
    _not_found(api.get(f"/files/{file_id}", user="bob"))
    _not_found(api.get(f"/files/{file_id}/content", user="bob"))
    _not_found(api.get(f"/files/{file_id}/content?inline=true", user="bob"))
    _not_found(api.get(f"/files/{file_id}/content?redirect=false", user="bob"))
    _not_found(api.get(f"/files/{file_id}/content?redirect=true", user="bob"))
    _not_found(api.delete(f"/files/{file_id}", user="bob"))
    # Bob's probing changed nothing and is not in Alice's log.
    meta = api.get(f"/files/{file_id}", user="alice")
    assert meta.status_code == 200 and meta.json["is_deleted"] is False
    assert download(file_id, user="alice")[1] == ALICE_BYTES
    ops = [e["operation_type"] for e in api.get("/logs", user="alice").json]
    assert ops == ["read", "read", "create"]


def test_another_users_files_are_not_searchable_listed_or_counted(api, alice_file):
    api.upload(b"in a session", "session_zebra.txt", headers={"X-Session-Id": "shared1"})
    assert len(api.get("/files/search?query=zebra", user="alice").json) == 2
    assert api.get("/files/count?include_all_sessions=true", user="alice").json == {"count": 2}

    assert api.get("/files/search?query=zebra", user="bob").json == []
    assert api.get("/files/search?query=zebra&file_type=document", user="bob").json == []
    assert _ids(api.get("/files", user="bob")) == []
    assert _ids(api.get("/files?include_all_sessions=true", user="bob")) == []
    assert _ids(api.get("/files?path=/", user="bob")) == []
    assert _ids(api.get("/files?tags=zebra", user="bob")) == []
    assert _ids(api.get("/files?created_by=alice_agent", user="bob")) == []
    # The same session name in Bob's requests is Bob's session, not Alice's.
    assert _ids(api.get("/files", user="bob", headers={"X-Session-Id": "shared1"})) == []
    assert _ids(api.get("/files?session_id=shared1", user="bob")) == []
    assert api.get("/files/count", user="bob").json == {"count": 0}
    assert api.get("/files/count?include_all_sessions=true", user="bob").json == {"count": 0}
    assert api.get("/files/count?tags=zebra", user="bob").json == {"count": 0}


def test_logs_are_per_workspace_both_ways(api, alice_file):
    bob_id = api.upload(BOB_BYTES, "bob.txt", user="bob",
                        headers={"X-Agent-Id": "bob_agent"}).json["id"]
    api.get(f"/files/{bob_id}/content", user="bob")
    api.delete(f"/files/{bob_id}", user="bob")

    alice_logs = api.get("/logs?limit=1000", user="alice").json
    bob_logs = api.get("/logs?limit=1000", user="bob").json
    assert [e["operation_type"] for e in alice_logs] == ["read", "create"]
    assert [e["operation_type"] for e in bob_logs] == ["delete", "read", "create"]
    assert not {e["id"] for e in alice_logs} & {e["id"] for e in bob_logs}
    assert {e["details"]["filename"] for e in alice_logs} == {"zebra_plan.txt"}
    assert {e["details"]["filename"] for e in bob_logs} == {"bob.txt"}
    # Filters that would match the other user's entries still stay inside the workspace.
    assert api.get("/logs?agent_id=alice_agent", user="bob").json == []
    assert api.get("/logs?agent_id=bob_agent", user="alice").json == []
    assert [e["details"]["filename"] for e in api.get(
        "/logs?resource_id=file_000001&operation_type=create", user="bob").json] == ["bob.txt"]
    exported = api.get("/logs?format=jsonl", user="bob").data.decode()
    assert "zebra" not in exported and exported.count("\n") == 3


def test_summaries_count_only_the_callers_workspace(api, alice_file):
    alice = api.get("", user="alice").json
    assert alice["file_count"] == 1 and alice["log_count"] == 2
    bob = api.get("", user="bob").json
    assert bob["file_count"] == 0 and bob["log_count"] == 0
    assert bob["workspace_id"] != alice["workspace_id"]
    stats = api.get("/summary", user="bob").json["statistics"]
    assert stats["file_count"] == 0 and stats["log_count"] == 0
