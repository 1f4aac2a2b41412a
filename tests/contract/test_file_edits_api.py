"""Issue 12 on both backends: edits in place, the trash, version restores, batch deletes,
and conditional content (ETag, 304, HEAD, Range).
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
import requests

from shared import factory
from shared.auth import mint_dev_token
from shared.models import FileDraft
from tests.conftest import API, DEV_SECRET, EICAR, post_json


def patch(api, file_id: str, body: object, if_match: str | None = None, user: str = "alice"):
    headers = {**api.headers(user), **({"If-Match": if_match} if if_match else {})}
    return api.client.patch(f"{API}/files/{file_id}", data=json.dumps(body),
                            content_type="application/json", headers=headers)


# -- PATCH ---------------------------------------------------------------------------------
def test_an_edit_changes_fields_in_place_and_logs_old_and_new(api, download):
    first = api.upload(b"body", "e.txt", description="one", tags=["a"], metadata='{"k": 1}').json
    meta = api.get(f"/files/{first['id']}")
    edited = patch(api, first["id"], {"description": "two", "tags": ["b", "c"],
                                      "metadata": {"k": 2}}, meta.headers["ETag"])
    assert edited.status_code == 200, edited.json
    record = edited.json
    assert (record["id"], record["version"], record["revision"]) == (first["id"], 1, 2)
    assert (record["description"], record["tags"], record["metadata"]) == (
        "two", ["b", "c"], {"k": 2})
    assert record["file_path"] == first["file_path"]  # no new blob version
    assert record["updated_at"] >= first["updated_at"]
    assert edited.headers["ETag"] != meta.headers["ETag"]
    assert download(first["id"])[1] == b"body"
    entry = api.get("/logs?operation_type=update").json[0]
    assert entry["resource_id"] == first["id"]
    assert entry["details"]["changes"] == {
        "description": {"old": "one", "new": "two"}, "tags": {"old": ["a"], "new": ["b", "c"]},
        "metadata": {"old": {"k": 1}, "new": {"k": 2}}}
    # Tags and words are re-indexed: the old ones no longer find it.
    assert [f["id"] for f in api.get("/files?tags=c").json] == [first["id"]]
    assert api.get("/files?tags=a").json == []
    assert [h["id"] for h in api.get("/files/search?query=two").json] == [first["id"]]
    assert api.get("/files/search?query=one").json == []


def test_an_edit_that_changes_nothing_logs_nothing(api):
    first = api.upload(b"x", "same.txt", description="d").json
    again = patch(api, first["id"], {"description": "d"})
    assert again.status_code == 200 and again.json["revision"] == first["revision"] == 1
    assert api.get("/logs?operation_type=update").json == []


def test_preconditions(api):
    first = api.upload(b"x", "p.txt").json
    assert patch(api, first["id"], {"description": "a"}, "1").status_code == 200
    stale = patch(api, first["id"], {"description": "b"}, "1")
    assert stale.status_code == 409 and stale.json["current_revision"] == 2
    by_version = patch(api, first["id"], {"description": "b", "expected_version": 2})
    assert by_version.status_code == 409 and by_version.json["current_version"] == 1
    assert patch(api, first["id"], {"description": "b", "expected_version": 1}).status_code \
        == 200
    api.delete(f"/files/{first['id']}")
    assert patch(api, first["id"], {"description": "c"}).status_code == 404
    assert patch(api, first["id"], {"description": "c"}, user="bob").status_code == 404


def test_a_file_that_is_not_ready_is_409(api):
    ws = factory.file_service().workspace(factory_ctx())
    reservation = factory.metadata_store().reserve_file(
        ws.id, FileDraft("p.txt", "/pending.txt", None, "", (), None, {}), False)
    response = patch(api, reservation.file_id, {"description": "x"})
    assert response.status_code == 409 and response.json["status"] == "pending"


def factory_ctx():
    from shared.context import RequestContext

    return RequestContext("alice")


@pytest.mark.parametrize("kind", ["edit", "move"])
def test_racing_edits_with_the_same_revision_one_wins(servers, kind):
    """16 writers on two real server processes, all sending If-Match: 1: exactly one 200,
    for metadata edits and for renames alike."""
    token = mint_dev_token(DEV_SECRET, f"racer-{kind}")
    auth = {"Authorization": f"Bearer {token}"}
    created = requests.post(f"{servers[0].url}{API}/files", headers=auth, timeout=30,
                            files={"file": ("r.txt", b"race")}).json()
    barrier, statuses = threading.Barrier(16), []

    def body(index: int) -> dict[str, str]:
        return {"description": f"writer {index}"} if kind == "edit" else {
            "filename": f"writer-{index}.txt"}

    def edit(index: int) -> None:
        barrier.wait(timeout=30)
        response = requests.patch(
            f"{servers[index % 2].url}{API}/files/{created['id']}", timeout=60,
            headers={**auth, "If-Match": "1"}, json=body(index))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {200: 1, 409: 15}
    final = requests.get(f"{servers[1].url}{API}/files/{created['id']}", headers=auth,
                         timeout=30).json()
    assert final["revision"] == 2
    logs = requests.get(f"{servers[0].url}{API}/logs?operation_type=update", headers=auth,
                        timeout=30).json()
    assert len(logs) == 1
    if kind == "edit":
        assert logs[0]["details"]["changes"]["description"]["new"] == final["description"]
    else:
        assert logs[0]["details"]["new"]["filename"] == final["filename"] != "r.txt"


# -- trash ---------------------------------------------------------------------------------
def test_a_deleted_file_is_in_the_trash_until_restored(api, download):
    first = api.upload(b"keep me", "t.txt", tags=["x"]).json
    api.delete(f"/files/{first['id']}")
    trash = api.get("/files?deleted=true").json
    assert [(f["id"], f["is_deleted"]) for f in trash] == [(first["id"], True)]
    assert api.get("/files/count?deleted=true").json["count"] == 1
    assert api.get("/files").json == []
    restored = post_json(api, f"/files/{first['id']}/restore", {})
    assert restored.status_code == 200, restored.json
    assert restored.json["is_deleted"] is False and restored.json["path"] == "/t.txt"
    assert restored.json["version"] == 1
    assert download(first["id"])[1] == b"keep me"
    assert [f["id"] for f in api.get("/files?tags=x").json] == [first["id"]]
    assert [h["id"] for h in api.get("/files/search?query=t").json] == [first["id"]]
    assert api.get("/files?deleted=true").json == []
    assert api.get("/logs?operation_type=update").json[0]["details"]["restored"] is True
    # Its bytes are no longer queued for purge.
    assert factory.maintenance().files.purge() == 0


def test_a_restore_onto_a_taken_path_is_409_unless_given_another(api, download):
    first = api.upload(b"old", "x.txt").json
    api.delete(f"/files/{first['id']}")
    newer = api.upload(b"new", "x.txt").json
    taken = post_json(api, f"/files/{first['id']}/restore", {})
    assert taken.status_code == 409 and taken.json["file_id"] == newer["id"]
    moved = post_json(api, f"/files/{first['id']}/restore", {"path": "/restored/x-old.txt"})
    assert moved.status_code == 200 and moved.json["path"] == "/restored/x-old.txt"
    assert moved.json["filename"] == "x-old.txt"
    assert download(first["id"])[1] == b"old" and download(newer["id"])[1] == b"new"
    assert post_json(api, f"/files/{first['id']}/restore", {}).status_code == 404


def test_purged_files_leave_the_trash_for_good(api, monkeypatch):
    monkeypatch.setenv("FILE_RETENTION_DAYS", "0")
    factory.reset()
    first = api.upload(b"gone", "g.txt").json
    api.delete(f"/files/{first['id']}")
    assert factory.maintenance().files.purge() == 1
    assert api.get("/files?deleted=true").json == []
    assert post_json(api, f"/files/{first['id']}/restore", {}).status_code == 404


# -- versions ------------------------------------------------------------------------------
def test_restoring_a_version_makes_its_bytes_live_as_a_new_version(api, download):
    first = api.upload(b"version one", "v.txt", description="kept").json
    api.upload(b"version two", "v.txt", overwrite="true", description="kept")
    restored = post_json(api, f"/files/{first['id']}/versions/1/restore", {})
    assert restored.status_code == 201, restored.json
    assert restored.json["version"] == 3 and restored.json["description"] == "kept"
    assert download(first["id"])[1] == b"version one"
    assert [v["version"] for v in api.get(f"/files/{first['id']}/versions").json] == [3, 2, 1]
    stale = post_json(api, f"/files/{first['id']}/versions/2/restore", {"expected_version": 2})
    assert stale.status_code == 409 and stale.json["current_version"] == 3


def test_a_version_restore_is_scanned_again(api, env):
    """A version stored before a signature update is refused when restored (422)."""
    from shared.files.service import FileService
    from shared.scanning.disabled import DisabledScanner

    unscanned = FileService(factory.get_settings(), factory.blob_store(),
                            factory.metadata_store(), DisabledScanner(), factory.signer(),
                            factory.quota())
    import io

    record = unscanned.write_stream(factory_ctx(), io.BytesIO(EICAR), "old.txt")
    api.upload(b"clean", "old.txt", overwrite="true")
    refused = post_json(api, f"/files/{record.id}/versions/1/restore", {})
    assert refused.status_code == 422
    assert api.get(f"/files/{record.id}").json["version"] == 2


# -- batch delete --------------------------------------------------------------------------
def test_batch_delete_answers_each_id(api):
    ids = [api.upload(b"b", f"b{i}.txt").json["id"] for i in range(3)]
    # Ids are numbered per workspace: bob's fifth file has an id alice does not have.
    bobs = [api.upload(b"bob's", f"bob{i}.txt", user="bob").json["id"] for i in range(5)][-1]
    response = post_json(api, "/files/batch-delete", {"ids": [ids[0], "file_999999", ids[2],
                                                              bobs]})
    assert response.status_code == 200
    assert [(r["id"], r["status"]) for r in response.json["results"]] == [
        (ids[0], 200), ("file_999999", 404), (ids[2], 200), (bobs, 404)]
    assert [f["id"] for f in api.get("/files").json] == [ids[1]]
    assert api.get(f"/files/{bobs}", user="bob").status_code == 200


# -- conditional content ---------------------------------------------------------------------
CONTENT = bytes(range(256)) * 4  # 1 KiB


# The service streams bytes itself on the embedded backend only; on GCS the client follows
# a signed URL and GCS answers Range and If-None-Match itself.
embedded_only = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


@pytest.fixture
def stored(api):
    return api.upload(CONTENT, "r.bin").json["id"]


@embedded_only
@pytest.mark.parametrize("header,status,expected,content_range", [
    ("bytes=0-9", 206, CONTENT[:10], "bytes 0-9/1024"),
    ("bytes=1000-", 206, CONTENT[1000:], "bytes 1000-1023/1024"),
    ("bytes=-24", 206, CONTENT[-24:], "bytes 1000-1023/1024"),
    ("bytes=1020-5000", 206, CONTENT[1020:], "bytes 1020-1023/1024"),
    ("bytes=0-1,5-6", 200, CONTENT, None),  # several ranges: the whole file
    ("items=0-9", 200, CONTENT, None),  # another unit is ignored (RFC 9110 14.2); was a 416
    ("", 200, CONTENT, None),  # empty: absent, as every empty header
    ("bytes=abc", 416, None, "bytes */1024"),  # a bytes range that is no range
    ("bytes=1024-", 416, None, "bytes */1024"),
    ("bytes=9-3", 416, None, "bytes */1024"),
])
def test_ranges(api, stored, header, status, expected, content_range):
    response = api.get(f"/files/{stored}/content", headers={"Range": header})
    assert response.status_code == status
    assert response.headers.get("Content-Range") == content_range
    if expected is not None:
        assert response.data == expected
        assert response.headers["Content-Length"] == str(len(expected))
    else:
        assert response.json["error"]
    reads = [e for e in api.get("/logs?operation_type=read").json if e["resource_id"] == stored]
    assert len(reads) == (0 if status == 416 else 1)


@embedded_only
def test_etags_and_304s(api, stored):
    content = api.get(f"/files/{stored}/content")
    assert content.headers["Cache-Control"] == "private, max-age=0, must-revalidate"
    etag = content.headers["ETag"]
    cached = api.get(f"/files/{stored}/content", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""
    assert api.get(f"/files/{stored}/content", headers={"If-None-Match": '"other"'}
                   ).status_code == 200
    meta = api.get(f"/files/{stored}")
    assert api.get(f"/files/{stored}", headers={"If-None-Match": meta.headers["ETag"]}
                   ).status_code == 304
    patch(api, stored, {"description": "changed"})
    assert api.get(f"/files/{stored}", headers={"If-None-Match": meta.headers["ETag"]}
                   ).status_code == 200  # the record changed
    assert api.get(f"/files/{stored}/content", headers={"If-None-Match": etag}
                   ).status_code == 304  # the bytes did not
    reads = [e for e in api.get("/logs?operation_type=read").json if e["resource_id"] == stored]
    assert len(reads) == 2  # the two 200s; the 304s are not reads
