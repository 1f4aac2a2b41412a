"""Workspace isolation: one user can never see, read, find, count, log or delete another's files.

Both users share one storage dir and one database (as in production), and numbering is per
workspace, so both own a ``file_000001``: every lookup must be scoped by workspace, never by
file id alone. Another user's id is a 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

ALICE_BYTES = b"alice's zebra storyboard\n"
BOB_BYTES = b"bob's own notes\n"


@pytest.fixture
def alice_file(api) -> dict:
    """Alice's first file, searchable by the word ``zebra``, with a read and an attribution."""
    response = api.upload(ALICE_BYTES, "zebra_plan.txt", description="The zebra storyboard",
                          tags=["zebra"], headers={"X-Agent-Id": "alice_agent"})
    assert response.status_code == 201
    assert api.get(f"/files/{response.json['id']}/content").data == ALICE_BYTES
    return response.json


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json]


def _not_found(response) -> None:
    assert response.status_code == 404, (response.status_code, response.data[:200])
    assert isinstance(response.json.get("error"), str) and response.json["error"]


def test_numbering_is_per_workspace_and_each_user_reads_only_their_bytes(api):
    alice = api.upload(ALICE_BYTES, "same.txt", user="alice")
    bob = api.upload(BOB_BYTES, "same.txt", user="bob")
    # The same path in two workspaces is no conflict, and both get the first number.
    assert alice.status_code == 201 and bob.status_code == 201
    assert alice.json["id"] == bob.json["id"] == "file_000001"
    assert alice.json["path"] == bob.json["path"] == "/same.txt"
    assert api.get("/files/file_000001/content", user="alice").data == ALICE_BYTES
    assert api.get("/files/file_000001/content", user="bob").data == BOB_BYTES
    assert api.get("/files/file_000001", user="bob").json["checksum"] == bob.json["checksum"]
    assert alice.json["checksum"] != bob.json["checksum"]
    assert alice.json["file_path"] != bob.json["file_path"], "blobs must not share a key"
    # Each workspace counts on independently.
    assert api.upload(b"2", "two.txt", user="alice").json["id"] == "file_000002"
    assert api.upload(b"2", "two.txt", user="bob").json["id"] == "file_000002"
    # Bob deleting his file_000001 leaves Alice's alone.
    assert api.delete("/files/file_000001", user="bob").status_code == 200
    _not_found(api.get("/files/file_000001", user="bob"))
    assert api.get("/files/file_000001/content", user="alice").data == ALICE_BYTES


def test_another_users_file_id_is_404_everywhere(api, alice_file):
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
    assert api.get(f"/files/{file_id}/content", user="alice").data == ALICE_BYTES
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


def test_a_signed_link_cannot_be_bent_to_another_file_or_workspace(api, alice_file):
    file_id = alice_file["id"]
    other_alice = api.upload(b"alice's other file\n", "other.txt").json["id"]
    bob_first = api.upload(BOB_BYTES, "bob.txt", user="bob").json["id"]
    assert bob_first == file_id == "file_000001"
    bob_ws = api.get("", user="bob").json["workspace_id"]

    link = api.get(f"/files/{file_id}/content?redirect=false", user="alice")
    assert link.status_code == 200
    parts = urlsplit(link.json["url"])
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(params) == {"ws", "v", "expires", "sig"}

    def fetch(fid: str = file_id, **changes: str | None):
        query = {**params, **changes}
        query = {k: v for k, v in query.items() if v is not None}
        return api.client.get(f"{parts.path.rsplit('/', 2)[0]}/{fid}/signed?{urlencode(query)}")

    good = fetch()
    assert good.status_code == 200 and good.data == ALICE_BYTES
    # Bob's file has the same id: pointing the link at Bob's workspace must not serve it.
    _not_found(fetch(ws=bob_ws))
    _not_found(fetch(other_alice))
    _not_found(fetch("file_000003"))
    _not_found(fetch(v="2"))
    _not_found(fetch(expires=str(int(params["expires"]) + 3600)))
    _not_found(fetch(sig=params["sig"][:-1] + ("0" if params["sig"][-1] != "0" else "1")))
    _not_found(fetch(sig=params["sig"].upper()))
    _not_found(fetch(sig=None))
    _not_found(fetch(ws=None))
    # Bob's own link for his file_000001 does not open Alice's file_000001 either.
    bob_link = api.get(f"/files/{bob_first}/content?redirect=false", user="bob").json["url"]
    bob_params = {k: v[0] for k, v in parse_qs(urlsplit(bob_link).query).items()}
    assert api.client.get(urlsplit(bob_link).path + "?" + urlencode(bob_params)).data == BOB_BYTES
    _not_found(fetch(**{**bob_params, "ws": params["ws"]}))
    _not_found(fetch(sig=bob_params["sig"]))
    # Signed reads are logged in the owner's workspace only.
    assert [e["details"].get("via") for e in api.get(
        "/logs?operation_type=read", user="alice").json] == ["signed_url", "api"]
