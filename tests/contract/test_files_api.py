"""The files endpoints end to end through the mounted functions, on the embedded backends."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import parse_qs, urlsplit

from shared import factory
from shared.timeutil import utcnow
from tests.conftest import EICAR

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_upload_returns_spec_shape_and_numbers_files(api):
    first = api.upload(PNG, "storyboard.png", description="Storyboard frame 1",
                       tags=["storyboard", "frame1"], headers={"X-Agent-Id": "storyboard_agent"})
    assert first.status_code == 201, first.json
    body = first.json
    assert body["id"] == "file_000001"
    assert body["filename"] == "storyboard.png"
    assert body["file_extension"] == ".png"
    assert body["file_type"] == "image"
    assert body["mime_type"] == "image/png"
    assert body["size_bytes"] == len(PNG)
    assert body["checksum"] == hashlib.sha256(PNG).hexdigest()
    assert body["created_by"] == "storyboard_agent"
    assert body["tags"] == ["storyboard", "frame1"]
    assert body["path"] == "/storyboard.png"
    assert body["status"] == "ready" and body["version"] == 1
    second = api.upload(b"notes", "notes.txt")
    assert second.json["id"] == "file_000002"
    assert second.json["file_type"] == "document"


def test_form_created_by_wins_over_agent_header(api):
    response = api.upload(created_by="writer", headers={"X-Agent-Id": "other"})
    assert response.json["created_by"] == "writer"


def test_mime_is_sniffed_from_content_not_extension(api, backend, download):
    response = api.upload(b"<html><script>alert(1)</script></html>", "fake.png")
    assert response.status_code == 201
    assert response.json["mime_type"] == "text/html"
    assert response.json["file_type"] != "image"
    status, _, headers = download(response.json["id"])
    assert status == 200
    if backend.local_signed_links:  # served from our origin: it must never run there
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("attachment")
        assert "sandbox" in headers["Content-Security-Policy"]


def test_get_metadata_and_content(api, download):
    file_id = api.upload(b"payload bytes", "a.bin").json["id"]
    meta = api.get(f"/files/{file_id}")
    assert meta.status_code == 200 and meta.json["filename"] == "a.bin"
    status, body, headers = download(file_id)
    assert status == 200
    assert body == b"payload bytes"
    assert headers["Content-Length"] == "13"


def test_inline_only_for_passive_types(api, backend):
    png_id = api.upload(PNG, "p.png").json["id"]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    svg_id = api.upload(svg, "x.svg").json["id"]
    if backend.local_signed_links:  # served from our origin: inline for passive types only
        assert api.get(f"/files/{png_id}/content?inline=true").headers[
            "Content-Disposition"].startswith("inline")
        assert api.get(f"/files/{svg_id}/content?inline=true").headers[
            "Content-Disposition"].startswith("attachment")
        return
    # GCS serves the bytes itself: the signed URL pins an attachment disposition and the
    # type, whatever ``inline`` asked, so not even a passive type renders there.
    for file_id, mime in ((png_id, "image/png"), (svg_id, "image/svg+xml")):
        response = api.get(f"/files/{file_id}/content?inline=true")
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["response-content-disposition"][0].startswith("attachment")
        assert query["response-content-type"] == [mime]
        assert query["X-Goog-Signature"]  # V4 signs the query: the client cannot change it


def test_session_scoping_writes_and_lists_within_the_session(api, download):
    hdr = {"X-Session-Id": "sess1"}
    inside = api.upload(b"a", "a.txt", headers=hdr)
    assert inside.json["path"] == "/sessions/sess1/a.txt"
    assert inside.json["session_id"] == "sess1"
    api.upload(b"b", "b.txt", session_id="sess2")
    api.upload(b"c", "c.txt")
    scoped = api.get("/files", headers=hdr)
    assert [f["filename"] for f in scoped.json] == ["a.txt"]
    everything = api.get("/files?include_all_sessions=true", headers=hdr)
    assert {f["filename"] for f in everything.json} == {"a.txt", "b.txt", "c.txt"}
    other = api.get("/files?session_id=sess2", headers=hdr)
    assert [f["filename"] for f in other.json] == ["b.txt"]
    # Cross-session reads by id are explicit and allowed.
    other_id = other.json[0]["id"]
    assert download(other_id, headers=hdr)[1] == b"b"


def test_explicit_path_and_folder_path(api):
    full = api.upload(b"x", "x.txt", path="/docs/report.txt")
    assert full.json["path"] == "/docs/report.txt"
    folder = api.upload(b"y", "y.txt", path="/docs/")
    assert folder.json["path"] == "/docs/y.txt"
    listed = api.get("/files?path=/docs")
    assert {f["path"] for f in listed.json} == {"/docs/report.txt", "/docs/y.txt"}
    assert api.get("/files?path=/doc").json == []


def test_path_conflict_and_overwrite_keeps_id_and_bumps_version(api, download):
    first = api.upload(b"v1", "same.txt", description="one")
    conflict = api.upload(b"v2", "same.txt")
    assert conflict.status_code == 409
    assert "error" in conflict.json
    over = api.upload(b"version two", "same.txt", overwrite="true", description="two")
    assert over.status_code == 201
    assert over.json["id"] == first.json["id"]
    assert over.json["version"] == 2
    assert over.json["description"] == "two"
    assert download(first.json["id"])[1] == b"version two"
    assert api.get("/files/count").json == {"count": 1}
    updates = api.get("/logs?operation_type=update").json
    assert len(updates) == 1 and updates[0]["resource_id"] == first.json["id"]


def test_filters_file_type_tags_created_by(api):
    api.upload(PNG, "a.png", tags=["x", "y"], created_by="agent_a")
    api.upload(PNG, "b.png", tags=["x"], created_by="agent_b")
    api.upload(b"text", "c.txt", tags=["x", "y"], created_by="agent_a")
    names = lambda r: sorted(f["filename"] for f in r.json)  # noqa: E731
    assert names(api.get("/files?file_type=image")) == ["a.png", "b.png"]
    assert names(api.get("/files?tags=x&tags=y")) == ["a.png", "c.txt"]
    assert names(api.get("/files?tags=x&tags=y&file_type=image")) == ["a.png"]
    assert names(api.get("/files?created_by=agent_b")) == ["b.png"]
    assert api.get("/files/count?tags=x").json == {"count": 3}


def test_cursor_pagination_walks_every_file_once(api):
    for index in range(7):
        api.upload(f"n{index}".encode(), f"f{index}.txt")
    seen, cursor = [], None
    while True:
        url = "/files?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url)
        assert response.status_code == 200
        seen += [f["id"] for f in response.json]
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == [f"file_{n:06d}" for n in range(1, 8)]


def test_search_by_filename_description_and_tags(api):
    api.upload(PNG, "storyboard_frame_1.png", description="First frame", tags=["scene"])
    api.upload(b"notes", "notes.txt", description="Meeting about the storyboard")
    api.upload(b"other", "other.txt", description="unrelated", tags=["budget"])
    hits = api.get("/files/search?query=storyboard").json
    assert [h["filename"] for h in hits] == ["storyboard_frame_1.png", "notes.txt"]
    # A hit carries what a list row shows, so a client needs no read per hit.
    assert (hits[1]["size_bytes"], hits[1]["mime_type"], hits[1]["version"]) == (
        5, "text/plain", 1)
    assert [h["filename"] for h in api.get("/files/search?query=budg").json] == ["other.txt"]
    assert [h["filename"] for h in api.get(
        "/files/search?query=storyboard&file_type=image").json] == ["storyboard_frame_1.png"]
    assert len(api.get("/files/search?query=storyboard&limit=1").json) == 1
    assert api.get("/files/search?query=").status_code == 400
    assert api.get("/files/search").status_code == 400


def test_search_handles_chinese(api):
    api.upload(b"x", "frame.png", description="分镜 第一帧")
    assert len(api.get("/files/search?query=分镜").json) == 1
    assert api.get("/files/search?query=剧本").json == []


def test_soft_delete_frees_path_keeps_record_and_blob_until_purge(api, backend):
    first = api.upload(b"old", "doc.txt").json
    deleted = api.delete(f"/files/{first['id']}")
    assert deleted.status_code == 200 and deleted.json["is_deleted"] is True
    assert api.get(f"/files/{first['id']}").status_code == 404
    assert api.get(f"/files/{first['id']}/content").status_code == 404
    assert api.delete(f"/files/{first['id']}").status_code == 404
    assert api.get("/files").json == []
    assert api.get("/files/search?query=doc").json == []
    again = api.upload(b"new", "doc.txt")
    assert again.status_code == 201 and again.json["id"] != first["id"]
    assert backend.blob_exists(first["file_path"]), "blob must survive until the purge"


def test_purge_removes_blobs_after_retention(api, backend, monkeypatch):
    from shared import factory


    monkeypatch.setenv("FILE_RETENTION_DAYS", "0")
    factory.reset()
    first = api.upload(b"old", "doc.txt").json
    api.upload(b"newer", "doc.txt", overwrite="true")
    api.delete(f"/files/{first['id']}")
    assert len(backend.blob_snapshot()) == 2
    assert factory.maintenance().files.purge() == 2
    assert backend.blob_snapshot() == {}


def test_eicar_is_rejected_logged_and_never_stored(api, backend):
    response = api.upload(EICAR, "eicar.txt")
    assert response.status_code == 422
    assert "EICAR" in response.json["signature"]
    assert backend.blob_snapshot() == {}
    assert api.get("/files").json == []
    scans = api.get("/logs?operation_type=scan").json
    assert len(scans) == 1 and scans[0]["details"]["verdict"] == "infected"


def test_size_limit_enforced_while_streaming(api, backend, monkeypatch):
    monkeypatch.setenv("MAX_FILE_SIZE_MB", "1")
    factory.reset()
    big = api.upload(b"a" * (1024 * 1024 + 1), "big.bin")
    assert big.status_code == 413
    assert backend.blob_snapshot() == {}
    assert api.upload(b"a" * (1024 * 1024), "ok.bin").status_code == 201


def test_download_link_serves_without_token_and_is_logged(api, backend):
    file_id = api.upload(b"signed bytes", "s.txt").json["id"]
    link = api.get(f"/files/{file_id}/content?redirect=false")
    assert link.status_code == 200 and set(link.json) == {"url", "expires_at"}
    assert link.json["expires_at"] > utcnow()
    status, body, _ = backend.fetch(api, link.json["url"])
    assert status == 200 and body == b"signed bytes"
    redirected = api.get(f"/files/{file_id}/content?redirect=true")
    assert redirected.status_code == 302
    reads = api.get("/logs?operation_type=read").json
    assert [e["details"]["via"] for e in reads] == ["signed_url", "signed_url"]


def test_every_file_operation_logs_with_attribution(api):
    hdr = {"X-Agent-Id": "agent_1", "X-Task-Id": "task_9"}
    file_id = api.upload(b"x", "x.txt", headers=hdr).json["id"]
    api.get(f"/files/{file_id}/content", headers=hdr)
    api.upload(b"y", "x.txt", overwrite="true", headers=hdr)
    api.delete(f"/files/{file_id}", headers=hdr)
    logs = api.get("/logs").json
    assert [e["operation_type"] for e in logs] == ["delete", "update", "read", "create"]
    assert all(e["agent_id"] == "agent_1" and e["task_id"] == "task_9" for e in logs)
    assert all(e["resource_type"] == "file" and e["resource_id"] == file_id for e in logs)
    assert api.get("/logs?task_id=task_9&operation_type=read").json[0]["resource_id"] == file_id


def test_workspace_summaries_count_files_and_logs(api):
    api.upload(b"x", "x.txt")
    overview = api.get("")
    assert overview.status_code == 200
    assert overview.json["file_count"] == 1 and overview.json["log_count"] == 1
    assert overview.json["workspace_id"].startswith("ws_")
    summary = api.get("/summary").json
    assert summary["statistics"]["file_count"] == 1
    assert summary["statistics"]["memory_max_length"] == 100000


def test_upload_streams_unknown_sizes(api):
    payload = io.BytesIO(b"z" * 3_000_000)
    response = api.upload(payload.getvalue(), "z.bin")
    assert response.status_code == 201 and response.json["size_bytes"] == 3_000_000


def test_head_answers_headers_and_is_never_logged_as_a_read(api, backend):
    file_id = api.upload(b"xyz", "x.txt").json["id"]
    response = api.client.head(f"/api/assistant/workspace/files/{file_id}/content",
                               headers=api.headers())
    assert response.data == b""
    if not backend.local_signed_links:
        assert response.status_code == 302  # to GCS, which answers HEAD itself
    else:
        assert response.status_code == 200
        assert response.headers["Content-Length"] == "3"
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.headers["ETag"].startswith('"')
    assert api.get("/logs?operation_type=read").json == []


def _raw_upload(api, parts: list[tuple[str, str | None, bytes]]):
    """POST a multipart body with the parts in exactly this order (name, filename, bytes)."""
    boundary = "orderboundary42"
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename
                                                     else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return api.client.post("/api/assistant/workspace/files", data=body,
                           headers={**api.headers(),
                                    "Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_fields_after_the_file_part_still_decide_where_it_lands(api, backend):
    """The path is reserved before the bytes when the fields so far allow it (GCS then writes
    in place); a later field that moves the file must win, and leave nothing at the guess."""
    moved = _raw_upload(api, [("file", "guess.txt", b"moved bytes"),
                              ("path", None, b"/later/final.txt"),
                              ("description", None, b"sent last")])
    assert moved.status_code == 201, moved.json
    assert moved.json["path"] == "/later/final.txt"
    assert moved.json["description"] == "sent last"
    assert len(backend.blob_snapshot()) == 1  # no copy left at the first guess
    assert backend.blob_exists(moved.json["file_path"])
    # The first guess was never held: the path is free.
    assert api.upload(b"other", "guess.txt").status_code == 201
    assert api.get("/files/count").json == {"count": 2}


def test_overwrite_sent_after_the_file_part_is_honoured(api, download):
    first = api.upload(b"v1", "late.txt")
    over = _raw_upload(api, [("file", "late.txt", b"version two"),
                             ("overwrite", None, b"true")])
    assert over.status_code == 201, over.json
    assert over.json["id"] == first.json["id"] and over.json["version"] == 2
    assert download(first.json["id"])[1] == b"version two"


def test_a_path_settled_before_the_bytes_streams_to_its_final_key(api, monkeypatch):
    """On a store that writes in place, ``stage`` gets the record's final key when the fields
    come first (one write, no copy), and none when they come after the file."""
    from shared import factory

    blobs = factory.file_service().blobs
    keys: list[str | None] = []
    stage = blobs.stage

    def spy(key=None):
        keys.append(key)
        return stage(key)

    monkeypatch.setattr(blobs, "stage", spy)
    first = api.upload(b"early", "early.txt", path="/docs/early.txt")
    assert first.status_code == 201
    late = _raw_upload(api, [("file", "x.txt", b"late"), ("path", None, b"/docs/late.txt")])
    assert late.status_code == 201
    if blobs.writes_in_place:
        assert keys[0] is not None and first.json["file_path"].endswith(keys[0])
        assert keys[1] is not None and not late.json["file_path"].endswith(keys[1])
    else:
        assert keys == [None, None]
