"""``PATCH /files/{id}`` with ``path``/``filename``: a move or rename, on both backends.

A move keeps the id, the versions and the bytes; it frees the old path at once, bumps
``updated_at`` and writes one log entry with the old and new place. A taken path, a stale
version and a file that is not ready are 409s that change nothing.
"""

from __future__ import annotations

import json

from shared import factory
from tests.conftest import API, Api
from tests.metadata_helpers import draft


def patch(api: Api, file_id: str, body: object, user: str = "alice",
          headers: dict[str, str] | None = None):
    return api.client.patch(f"{API}/files/{file_id}", data=json.dumps(body),
                            headers={**api.headers(user), **(headers or {})},
                            content_type="application/json")


def reserve(path: str, user: str = "alice"):
    """An upload in flight at ``path`` (its reservation, as an upload holds it)."""
    store = factory.metadata_store()
    ws = store.get_or_create_workspace(user).id
    return store.reserve_file(ws, draft(path), False)


def updates(api: Api, file_id: str) -> list[dict]:
    return api.get(f"/logs?resource_id={file_id}&operation_type=update").json


def test_rename_keeps_id_bytes_and_versions_and_logs_old_and_new(api, download):
    made = api.upload(b"the report\n", "report.txt", path="/docs/").json
    renamed = patch(api, made["id"], {"filename": "Final Report.md"})
    assert renamed.status_code == 200, renamed.json
    body = renamed.json
    assert (body["id"], body["version"], body["checksum"]) == (
        made["id"], made["version"], made["checksum"])
    assert (body["path"], body["filename"]) == ("/docs/Final Report.md", "Final Report.md")
    assert body["file_extension"] == ".md" and body["updated_at"] > made["updated_at"]
    assert body["file_path"] == made["file_path"]  # no new blob
    assert download(made["id"])[1] == b"the report\n"
    versions = api.get(f"/files/{made['id']}/versions").json
    assert [v["version"] for v in versions] == [1]
    [entry] = updates(api, made["id"])
    assert entry["details"]["old"] == {"path": "/docs/report.txt", "filename": "report.txt"}
    assert entry["details"]["new"] == {"path": "/docs/Final Report.md",
                                       "filename": "Final Report.md"}
    # The name is searchable under the new words only; the old path is free at once.
    assert [h["id"] for h in api.get("/files/search?query=final").json] == [made["id"]]
    assert api.get("/files/search?query=report.txt").json == []
    again = api.upload(b"a new file\n", "report.txt", path="/docs/")
    assert again.status_code == 201 and again.json["id"] != made["id"]


def test_move_to_a_folder_or_a_full_path(api):
    file_id = api.upload(b"x", "notes.txt").json["id"]
    into = patch(api, file_id, {"path": "/archive/2024/"})
    assert (into.json["path"], into.json["filename"]) == ("/archive/2024/notes.txt", "notes.txt")
    named = patch(api, file_id, {"path": "/archive/old-notes.txt"})
    assert (named.json["path"], named.json["filename"]) == ("/archive/old-notes.txt",
                                                            "old-notes.txt")
    both = patch(api, file_id, {"path": "/keep/", "filename": "n.txt"})
    assert both.json["path"] == "/keep/n.txt"
    agree = patch(api, file_id, {"path": "/keep/m.txt", "filename": "m.txt"})
    assert agree.status_code == 200 and agree.json["path"] == "/keep/m.txt"
    clash = patch(api, file_id, {"path": "/keep/a.txt", "filename": "b.txt"})
    assert clash.status_code == 400 and "last segment" in clash.json["error"]
    assert api.get("/files?path=/archive/").json == []
    assert [f["id"] for f in api.get("/files?path=/keep/").json] == [file_id]
    assert len(updates(api, file_id)) == 4


def test_same_place_changes_nothing_and_logs_nothing(api):
    made = api.upload(b"x", "same.txt").json
    answer = patch(api, made["id"], {"path": "/same.txt"})
    assert answer.status_code == 200 and answer.json["updated_at"] == made["updated_at"]
    assert updates(api, made["id"]) == []


def test_a_taken_path_is_409_and_changes_nothing(api):
    a = api.upload(b"a", "a.txt").json
    b = api.upload(b"b", "b.txt").json
    taken = patch(api, a["id"], {"filename": "b.txt"})
    assert taken.status_code == 409
    assert taken.json["path"] == "/b.txt" and taken.json["file_id"] == b["id"]
    assert api.get(f"/files/{a['id']}").json["path"] == "/a.txt"
    assert updates(api, a["id"]) == []


def test_an_upload_in_flight_at_the_target_is_409(api):
    a = api.upload(b"a", "a.txt").json
    reserve("/incoming/big.bin")
    held = patch(api, a["id"], {"path": "/incoming/big.bin"})
    assert held.status_code == 409 and "in progress" in held.json["error"]
    assert api.get(f"/files/{a['id']}").json["path"] == "/a.txt"


def test_a_file_that_is_not_ready_is_409(api):
    pending = reserve("/pending.bin")
    refused = patch(api, pending.file_id, {"filename": "other.bin"})
    assert refused.status_code == 409
    assert refused.json == {"error": "file is not ready", "status": "pending"}


def test_stale_version_or_revision_is_409(api):
    """``expected_version`` is the content version; ``If-Match`` the metadata revision (a
    number or the record's ETag), as for every PATCH."""
    file_id = api.upload(b"v1", "v.txt").json["id"]
    read = api.get(f"/files/{file_id}")
    revision, etag = read.json["revision"], read.headers["ETag"]
    api.upload(b"v2", "v.txt", overwrite="true")  # a new version: a new revision too
    stale = patch(api, file_id, {"filename": "w.txt", "expected_version": 1})
    assert stale.status_code == 409, stale.json
    assert (stale.json["current_version"], stale.json["expected_version"]) == (2, 1)
    for header in (str(revision), etag):
        stale = patch(api, file_id, {"filename": "w.txt"}, headers={"If-Match": header})
        assert stale.status_code == 409, stale.json
        assert stale.json["current_revision"] > revision
    current = api.get(f"/files/{file_id}").json["revision"]
    fresh = patch(api, file_id, {"filename": "w.txt", "expected_version": 2},
                  headers={"If-Match": str(current)})
    assert fresh.status_code == 200 and fresh.json["path"] == "/w.txt"
    assert fresh.json["revision"] == current + 1 and fresh.json["version"] == 2
    assert patch(api, file_id, {"filename": "x.txt"},
                 headers={"If-Match": '"nonsense"'}).status_code == 400


def test_unknown_deleted_and_other_users_files_are_404(api):
    file_id = api.upload(b"x", "x.txt").json["id"]
    assert patch(api, file_id, {"filename": "y.txt"}, user="bob").status_code == 404
    assert patch(api, "file_999999", {"filename": "y.txt"}).status_code == 404
    assert patch(api, "nope", {"filename": "y.txt"}).status_code == 404
    api.delete(f"/files/{file_id}")
    assert patch(api, file_id, {"filename": "y.txt"}).status_code == 404


def test_an_overwrite_in_flight_lands_on_the_moved_file(api):
    """The upload reserved the file, not the path: its bytes become the moved file's next
    version, and the move's place and name stay."""
    from tests.metadata_helpers import finalize

    made = api.upload(b"v1", "draft.txt", path="/inbox/").json
    store = factory.metadata_store()
    ws = store.get_or_create_workspace("alice").id
    overwrite = draft("/inbox/draft.txt")
    reservation = store.reserve_file(ws, overwrite, True)
    assert patch(api, made["id"], {"path": "/done/final.txt"}).status_code == 200
    record, _ = finalize(store, ws, overwrite, reservation, f"blobs/{made['id']}/v2")
    assert (record.path, record.filename, record.version) == ("/done/final.txt",
                                                              "final.txt", 2)
    listed = api.get("/files?path=/done/").json
    assert [(f["id"], f["filename"], f["version"]) for f in listed] == [
        (made["id"], "final.txt", 2)]
    assert api.get("/files?path=/inbox/").json == []
