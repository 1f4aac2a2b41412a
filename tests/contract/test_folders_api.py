"""``GET /folders`` and ``POST /folders/move`` on both backends.

A folder is the prefix of its files' paths. The listing shows a folder's immediate children
in name order (sub-folders with the count and bytes of every live file under them, and
files), paged with an opaque cursor. A folder move takes every live file under one prefix
to the same place under another; conflicts are 409s before anything moves.
"""

from __future__ import annotations

from shared import factory
from tests.conftest import Api, post_json
from tests.metadata_helpers import draft

LAYOUT = {  # path -> size
    "/docs/a.txt": 3, "/docs/sub/b.txt": 5, "/docs/sub/deep/c.txt": 7, "/docs/sub2/x.bin": 11,
    "/docs/z.txt": 13, "/docs-old/y.txt": 17, "/top.txt": 19,
}


def build(api: Api) -> dict[str, str]:
    """The layout's files; returns path -> id."""
    ids = {}
    for path, size in LAYOUT.items():
        made = api.upload(b"x" * size, path.rsplit("/", 1)[1], path=path)
        assert made.status_code == 201, made.json
        ids[path] = made.json["id"]
    return ids


def children(body: dict) -> list[tuple[str, int | None, int | None]]:
    """A page as (path, file_count, total_bytes) in name order; files have None counts."""
    out = [(f["path"], f["file_count"], f["total_bytes"]) for f in body["folders"]]
    out += [(f["path"], None, None) for f in body["files"]]
    return sorted(out)


def test_a_folder_lists_its_sub_folders_with_totals_and_its_files(api):
    build(api)
    api.delete(f"/files/{api.get('/files?path=/docs/sub2/').json[0]['id']}")  # not counted
    docs = api.get("/folders?path=/docs/")
    assert docs.status_code == 200
    assert docs.json["path"] == "/docs/" and docs.json["next_cursor"] is None
    assert children(docs.json) == [("/docs/a.txt", None, None), ("/docs/sub/", 2, 12),
                                   ("/docs/z.txt", None, None)]
    assert docs.json["folders"][0]["name"] == "sub"
    assert {f["id"] for f in docs.json["files"]} == {
        f["id"] for f in api.get("/files?path=/docs/").json if f["path"].count("/") == 2}
    root = api.get("/folders?path=/").json
    assert children(root) == [("/docs-old/", 1, 17), ("/docs/", 4, 28), ("/top.txt", None, None)]
    assert api.get("/folders").json == root  # the root is the default
    empty = api.get("/folders?path=/nothing/here/")
    assert empty.status_code == 200 and children(empty.json) == []


def test_pages_walk_every_child_once_in_name_order(api):
    build(api)
    for name in ("b", "c", "d"):
        api.upload(b"1", f"{name}.txt", path=f"/docs/{name}/")
    seen, cursor, pages = [], None, 0
    while True:
        response = api.get("/folders?path=/docs/&limit=2" + (f"&cursor={cursor}" if cursor
                                                              else ""))
        assert response.status_code == 200
        pages += 1
        seen += [p for p, _, _ in children(response.json)]
        cursor = response.json["next_cursor"]
        if cursor is None:
            assert "X-Next-Cursor" not in response.headers
            break
        assert response.headers["X-Next-Cursor"] == cursor
        assert 'rel="next"' in response.headers["Link"]
    assert seen == ["/docs/a.txt", "/docs/b/", "/docs/c/", "/docs/d/", "/docs/sub/",
                    "/docs/sub2/", "/docs/z.txt"]
    assert pages == 4


def test_the_listing_is_scoped_like_the_file_list(api):
    api.upload(b"1", "in.txt", headers={"X-Session-Id": "s1"})
    api.upload(b"22", "deep.txt", session_id="s1", path="/sessions/s1/sub/")
    api.upload(b"333", "out.txt")
    hdr = {"X-Session-Id": "s1"}
    scoped = api.get("/folders", headers=hdr).json
    assert scoped["path"] == "/sessions/s1/"
    assert children(scoped) == [("/sessions/s1/in.txt", None, None), ("/sessions/s1/sub/", 1, 2)]
    everything = api.get("/folders?include_all_sessions=true", headers=hdr).json
    assert children(everything) == [("/out.txt", None, None), ("/sessions/", 2, 3)]
    outside = api.get("/folders?path=/&session_id=s1")
    assert outside.status_code == 400


def test_a_folder_move_moves_every_file_keeping_ids_and_logs_each(api):
    ids = build(api)
    moved = post_json(api, "/folders/move", {"from": "/docs/", "to": "/archive/2024/docs/"},
                      headers={"X-Agent-Id": "tidy"})
    assert moved.status_code == 200, moved.json
    body = moved.json
    assert (body["status"], body["files_total"], body["files_moved"]) == ("done", 5, 5)
    assert (body["from"], body["to"], body["error"]) == ("/docs/", "/archive/2024/docs/", None)
    assert api.get(f"/folders/moves/{body['id']}").json == body
    after = {f["path"]: f["id"] for f in api.get("/files?limit=100").json}
    expected = {p.replace("/docs/", "/archive/2024/docs/", 1) if p.startswith("/docs/") else p:
                i for p, i in ids.items()}
    assert after == expected
    assert children(api.get("/folders?path=/archive/2024/").json) == [
        ("/archive/2024/docs/", 5, 39)]
    assert api.get("/folders?path=/docs/").json["files"] == []
    entries = api.get("/logs?agent_id=tidy&operation_type=update").json
    assert len(entries) == 5
    entry = next(e for e in entries if e["resource_id"] == ids["/docs/sub/deep/c.txt"])
    assert entry["details"]["old"]["path"] == "/docs/sub/deep/c.txt"
    assert entry["details"]["new"]["path"] == "/archive/2024/docs/sub/deep/c.txt"
    assert entry["details"]["folder_move"] == {"id": body["id"], "from": "/docs/",
                                               "to": "/archive/2024/docs/"}
    # The files keep working at their new paths: search, download, an overwrite.
    again = api.upload(b"new", "a.txt", path="/archive/2024/docs/", overwrite="true")
    assert again.status_code == 201 and again.json["id"] == ids["/docs/a.txt"]


def test_merging_into_a_parent_and_an_empty_source(api):
    build(api)
    up = post_json(api, "/folders/move", {"from": "/docs/sub/", "to": "/docs/"})
    assert up.status_code == 200 and up.json["files_moved"] == 2
    assert children(api.get("/folders?path=/docs/").json) == [
        ("/docs/a.txt", None, None), ("/docs/b.txt", None, None), ("/docs/deep/", 1, 7),
        ("/docs/sub2/", 1, 11), ("/docs/z.txt", None, None)]
    gone = post_json(api, "/folders/move", {"from": "/docs/sub/", "to": "/x/"})
    assert gone.status_code == 404
    assert gone.json == {"error": "no file lies under this folder", "path": "/docs/sub/"}


def test_conflicts_are_409_before_anything_moves(api):
    ids = build(api)
    api.upload(b"t", "a.txt", path="/taken/")
    before = api.get("/files?limit=100").json
    taken = post_json(api, "/folders/move", {"from": "/docs/", "to": "/taken/"})
    assert taken.status_code == 409
    assert taken.json["conflicts"] == [{"path": "/taken/a.txt", "file_id": "file_000008",
                                        "reason": "taken"}]
    for into in ("/docs/", "/docs/sub/", "/docs/sub/deeper/"):
        itself = post_json(api, "/folders/move", {"from": "/docs/", "to": into})
        assert itself.status_code == 409 and "into itself" in itself.json["error"]
    root = post_json(api, "/folders/move", {"from": "/", "to": "/all/"})
    assert root.status_code == 409
    assert api.get("/files?limit=100").json == before
    assert api.get("/logs?operation_type=update").json == []
    assert ids


def test_uploads_in_flight_block_a_folder_move(api):
    build(api)
    store = factory.metadata_store()
    ws = store.get_or_create_workspace("alice").id
    inside = store.reserve_file(ws, draft("/docs/sub/uploading.bin"), False)
    refused = post_json(api, "/folders/move", {"from": "/docs/", "to": "/new/"})
    assert refused.status_code == 409 and "in progress" in refused.json["error"]
    assert refused.json["conflicts"][0]["file_id"] == inside.file_id
    store.release_reservation(ws, inside)
    store.reserve_file(ws, draft("/new/sub/b.txt"), False)  # an upload at a target path
    at_target = post_json(api, "/folders/move", {"from": "/docs/", "to": "/new/"})
    assert at_target.status_code == 409
    assert at_target.json["conflicts"] == [{"path": "/new/sub/b.txt", "file_id": "file_000009",
                                            "reason": "upload in progress"}]
    assert api.get("/files?path=/docs/").status_code == 200
    assert len(api.get("/files?path=/docs/").json) == 5


def test_folder_moves_are_private_to_their_workspace(api):
    build(api)
    move_id = post_json(api, "/folders/move", {"from": "/docs/", "to": "/d/"}).json["id"]
    assert api.get(f"/folders/moves/{move_id}", user="bob").status_code == 404
    assert api.get("/folders/moves/fmv_00000000000000000000").status_code == 404
    assert api.get("/folders/moves/nope").status_code == 404
    bob = post_json(api, "/folders/move", {"from": "/d/", "to": "/e/"}, user="bob")
    assert bob.status_code == 404  # bob has no files there; alice's are untouched
    assert len(api.get("/files?path=/d/").json) == 5
    assert api.get("/folders", user="bob").json["folders"] == []


def test_names_that_sort_around_the_slash_page_correctly(api):
    """'.' and '-' sort before '/', so a file ``b.txt`` and a folder ``b-c/`` come before the
    folder ``b/``; a file may share its name with a folder; non-ASCII names sort by code
    point on both backends. Many direct files between folders are read in growing chunks."""
    paths = ["/o/b", "/o/b.txt", "/o/b/x", "/o/b-c/y", "/o/é.txt", "/o/中/z", "/o/a/q",
             *[f"/o/m{i:02d}.txt" for i in range(25)], "/o/n/deep/er/f"]
    for path in paths:
        made = api.upload(b"1", "f", path=path)
        assert made.status_code == 201, (path, made.json)
    expected = sorted({p if p.count("/") == 2 else p[: p.index("/", 3) + 1] for p in paths})
    seen, cursor = [], None
    while True:
        page = api.get("/folders?path=/o/&limit=7" + (f"&cursor={cursor}" if cursor else ""))
        seen += [p for p, _, _ in children(page.json)]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert seen == expected
    assert seen[:5] == ["/o/a/", "/o/b", "/o/b-c/", "/o/b.txt", "/o/b/"]
    assert api.get("/folders?path=/o/&cursor=bm9wZQ").status_code == 400
