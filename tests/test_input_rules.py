"""Input rules beyond the hostile table: what stays valid, exact messages, ``Allow`` headers,
and records that can be served whatever they hold.
"""

from __future__ import annotations

import json

from shared import factory
from shared.models import BlobFacts, FileDraft, Finalization
from tests.conftest import post_json
from tests.metadata_helpers import entry


def test_emoji_sequences_joined_by_zwj_stay_valid_in_descriptions_and_tags(api):
    family = "family \U0001F468\u200d\U0001F469\u200d\U0001F467"
    created = api.upload(b"x", "f.txt", description=family, tags=[family])
    assert created.status_code == 201, created.json
    assert created.json["description"] == family and created.json["tags"] == [family]
    assert api.upload(b"x", "g.txt", description="mixed العربية and English").status_code == 201


def test_format_characters_are_named_in_the_error(api):
    refused = api.upload(b"x", "invoice\u202etxt.exe")
    assert refused.status_code == 400
    assert "invisible or bidi" in refused.json["error"]
    bidi = api.upload(b"x", "ok.txt", description="a\u202eb")
    assert "bidi" in bidi.json["error"]


def test_lone_surrogates_are_refused_wherever_json_arrives(api):
    response = api.upload(b"x", "m.txt", metadata='{"k": "\\ud800"}')
    assert response.status_code == 400 and "Unicode" in response.json["error"]
    memory = api.client.post("/api/assistant/workspace/memory", data=b'{"content": "\\udbff"}',
                             headers=api.headers(), content_type="application/json")
    assert memory.status_code == 400 and "Unicode" in memory.json["error"]
    assert api.get("/files").json == []
    assert api.get("/memory").json["version"] == 0


def test_a_stored_record_holding_a_lone_surrogate_is_still_served(api):
    """Data written before the service refused them must not break a user's file list."""
    meta = factory.metadata_store()
    ws = meta.get_or_create_workspace("alice").id
    draft = FileDraft("old.txt", "/old.txt", None, "", (), None, {"k": "\ud800"})
    reservation = meta.reserve_file(ws, draft, False)
    done = Finalization(draft, reservation, "legacy/key", "local://legacy/key",
                        BlobFacts(1, "ab" * 32, "text/plain", "document"))
    meta.finalize_file(ws, done, entry("create", reservation.file_id), 3600)
    listed = api.get("/files")
    assert listed.status_code == 200
    assert json.loads(listed.data)[0]["metadata"] == {"k": "\ud800"}  # escaped, not a 500
    assert api.get(f"/files/{reservation.file_id}").status_code == 200
    assert api.get("/logs?format=jsonl").status_code == 200


def test_messages_say_what_is_wrong(api):
    assert "empty segments" in api.get("/files?path=//").json["error"]
    assert "empty segments" in api.get("/files/count?path=/a//").json["error"]
    assert "control characters" in api.get("/files/search?query=%0B").json["error"]
    assert "white space" in api.get("/files/search?query=%20%20").json["error"]
    assert "UTF-8" in api.get("/files/search?query=%FF").json["error"]


def test_literal_routes_advertise_their_own_methods(api):
    for method, url, allowed in [("PUT", "/files/count", "GET, HEAD"),
                                 ("DELETE", "/files/search", "GET, HEAD"),
                                 ("GET", "/files/upload-url", "POST"),
                                 ("DELETE", "/files/count", "GET, HEAD"),
                                 ("GET", "/files/batch-delete", "POST")]:
        response = api.client.open(f"/api/assistant/workspace{url}", method=method,
                                   headers=api.headers())
        assert response.status_code == 405, (method, url)
        assert response.headers["Allow"] == allowed, (method, url)
        assert response.json["error"] == "method not allowed"


def test_empty_values_are_absent(api):
    created = api.upload(b"x", "e.txt").json
    assert api.get(f"/files/{created['id']}/content?version=").data == b"x"
    assert api.get("/files?file_type=&created_by=").status_code == 200
    assert post_json(api, "/memory", {"content": "a"}, headers={"If-Match": ""}).status_code \
        == 200


def test_every_route_names_an_unknown_query_parameter(api):
    """Issue 12, item 9: the same 400 on every route, before the handler runs."""
    import yaml

    from tests.test_openapi import DOC_PATH

    doc = yaml.safe_load(DOC_PATH.read_text())
    values = {"file_id": "file_000001", "version": "1", "graph_exec_id": "exec1",
              "key_id": "key_0123456789", "move_id": "fmv_0123456789abcdef0123"}
    checked = 0
    for path, item in doc["paths"].items():
        for method in ("get", "post", "patch", "delete"):
            if method not in item:
                continue
            url = path.format(**values) + "?zzz_unknown=1"
            response = api.client.open(url, method=method.upper(), headers=api.headers())
            assert response.status_code == 400, (method, path, response.status_code)
            assert "zzz_unknown" in response.json["error"], (method, path)
            checked += 1
    assert checked >= 25


def test_moves_compare_paths_in_nfc_like_uploads(api):
    """Two spellings of one name cannot hold two live files: a rename or a folder move
    given in decomposed form (NFD) lands on, and collides with, the composed (NFC) path."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    first = api.upload(b"1", f"{composed}.txt").json
    other = api.upload(b"2", "other.txt").json
    clash = api.client.patch(f"/api/assistant/workspace/files/{other['id']}",
                             data=json.dumps({"filename": f"{decomposed}.txt"}),
                             headers=api.headers(), content_type="application/json")
    assert clash.status_code == 409 and clash.json["file_id"] == first["id"]
    api.upload(b"3", "menu.txt", path=f"/{composed}/")
    moved = post_json(api, "/folders/move", {"from": f"/{decomposed}/", "to": "/bar/"})
    assert moved.status_code == 200 and moved.json["from"] == f"/{composed}/"
    assert [f["path"] for f in api.get("/files?path=/bar/").json] == ["/bar/menu.txt"]


def test_folder_messages_say_what_is_wrong(api):
    assert "ending in '/'" in api.get("/folders?path=/docs").json["error"]
    no_slash = post_json(api, "/folders/move", {"from": "/docs", "to": "/b/"}).json["error"]
    assert no_slash == "from must be a folder path ending in '/'"
    dotdot = post_json(api, "/folders/move", {"from": "/a/", "to": "/b/../c/"}).json["error"]
    assert dotdot.startswith("to: ") and "dot segment" in dotdot
    assert api.get("/folders?limit=1000").json["error"] == (
        "limit must be an integer from 1 to 200")
