"""``store_media_file`` end to end: every input type by return format, through the ``media``
function with the real clamd, the embedded workspace and a loopback origin.

Also here: EICAR from every source (422, nothing left in the exec dir, a ``scan`` log
entry), the operation log's attribution, the scanner being down (503), and the 413s.
(``gcs://`` inputs live in ``test_media_gcs.py``; exec-dir hygiene in ``test_media_execdir.py``.)
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest

from localdev.origin import Route
from localdev.process import free_port
from shared import factory
from shared.config import get_settings
from shared.context import RequestContext
from shared.factory import clean_exec_files, store_media_file
from shared.files.service import FileService
from shared.media import ExecutionContext
from shared.scanning.disabled import DisabledScanner
from tests.conftest import EICAR
from tests.media_fixtures import build_service, exec_files, install, post_media

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
                       "hwGA60e6kgAAAABJRU5ErkJggg==")
FORMATS = ("for_local_processing", "for_external_api", "for_block_output")
KINDS = ("data_base64", "data_percent", "url", "workspace_id", "workspace_path", "local")
EXEC = "exec-42"
MiB = 1024 * 1024


def prepare(kind: str, content: bytes, api, media, origin, name: str = "pic.png") -> str:
    """Put ``content`` where ``kind`` reads it from; returns the ``file`` string."""
    if kind == "data_base64":
        return "data:image/png;base64," + base64.b64encode(content).decode()
    if kind == "data_percent":
        return "data:image/png," + quote_from_bytes(content)
    if kind == "url":
        origin.routes[f"/media/{name}"] = Route(body=content)
        return origin.url(f"/media/{name}?token=secret")
    if kind in {"workspace_id", "workspace_path"}:
        response = api.upload(content, name)
        assert response.status_code == 201, response.data
        record = response.get_json()
        if kind == "workspace_id":
            return f"workspace://{record['id']}"
        return f"workspace://{record['path']}#image/png"
    directory = media.dirs.ensure("alice", EXEC)
    (directory / name).write_bytes(content)
    return name


def data_uri_bytes(uri: str, mime_type: str) -> bytes:
    prefix = f"data:{mime_type};base64,"
    assert uri.startswith(prefix), uri[:80]
    return base64.b64decode(uri[len(prefix):])


def content_of(api, file_id: str) -> bytes:
    response = api.get(f"/files/{file_id}/content")
    assert response.status_code == 200
    return response.data


@pytest.mark.parametrize("session", [None, "s1"])
@pytest.mark.parametrize("return_format", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_input_in_every_format(api, env, media, origin, kind, return_format, session):
    file = prepare(kind, PNG, api, media, origin)
    body = {"file": file, "return_format": return_format, "graph_exec_id": EXEC}
    if session:
        body["session_id"] = session
    response = post_media(api, body, headers={"X-Agent-Id": "video_agent",
                                              "X-Task-Id": "task_7"})
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert (answer["mime_type"], answer["size_bytes"]) == ("image/png", len(PNG))
    exec_dir = media.dirs.path("alice", EXEC)
    stored = [p for p in exec_dir.iterdir()]
    assert len(stored) == 1 and stored[0].read_bytes() == PNG  # the scanned local copy
    if kind != "data_base64" and kind != "data_percent":
        assert stored[0].name == "pic.png"
    else:
        assert stored[0].suffix == ".png"

    result = answer["result"]
    if return_format == "for_local_processing":
        assert result == stored[0].name
    elif return_format == "for_external_api" or session is None:
        assert data_uri_bytes(result, "image/png") == PNG
    else:
        ref, _, mime = result.removeprefix("workspace://").partition("#")
        assert mime == "image/png"
        assert content_of(api, ref) == PNG
        record = api.get(f"/files/{ref}").get_json()
        if kind.startswith("workspace"):
            assert record["path"] == "/pic.png"  # the source file itself, not a copy
        else:
            assert record["path"] == f"/sessions/{session}/{stored[0].name}"

    logs = api.get("/logs?operation_type=create&agent_id=video_agent").get_json()
    entries = [e for e in logs if e["details"].get("media") == "store"]
    assert len(entries) == 1
    details = entries[0]["details"]
    assert entries[0]["task_id"] == "task_7"
    assert details["return_format"] == return_format
    assert details["graph_exec_id"] == EXEC
    assert details["checksum"] and details["size_bytes"] == len(PNG)
    assert details["source"] == kind.split("_")[0]
    if kind == "url":
        assert details["url"] == f"http://127.0.0.1:{origin.port}"  # never path or query
        assert "secret" not in str(entries[0])


def test_session_header_counts_as_the_session(api, env, media, origin):
    file = prepare("data_base64", PNG, api, media, origin)
    response = post_media(api, {"file": file, "return_format": "for_block_output",
                                "graph_exec_id": EXEC}, headers={"X-Session-Id": "chat9"})
    assert response.get_json()["result"].startswith("workspace://file_")
    listed = api.get("/files", headers={"X-Session-Id": "chat9"}).get_json()
    assert [f["path"].rsplit("/", 1)[0] for f in listed] == ["/sessions/chat9"]


def test_block_output_picks_a_free_name_when_the_session_path_is_taken(api, env, media, origin):
    api.upload(b"older", "pic.png", session_id="s1")
    file = prepare("url", PNG, api, media, origin)
    response = post_media(api, {"file": file, "return_format": "for_block_output",
                                "graph_exec_id": EXEC, "session_id": "s1"})
    assert response.status_code == 200, response.data
    ref = response.get_json()["result"].removeprefix("workspace://").partition("#")[0]
    record = api.get(f"/files/{ref}").get_json()
    assert record["path"].startswith("/sessions/s1/pic-") and record["version"] == 1
    assert content_of(api, "file_000001") == b"older"  # never overwritten


def test_a_failed_workspace_save_takes_back_the_exec_copy(api, env, media, origin,
                                                         monkeypatch):
    from shared.errors import BackendUnavailable

    def down(*_args, **_kwargs):
        raise BackendUnavailable("metadata store is unavailable")

    monkeypatch.setattr(media.files, "write_stream", down)
    file = prepare("url", PNG, api, media, origin)
    response = post_media(api, {"file": file, "return_format": "for_block_output",
                                "graph_exec_id": EXEC, "session_id": "s1"})
    assert response.status_code == 503
    assert exec_files(env) == []


def test_library_entry_points(env, media, origin):
    """In-process callers use ``store_media_file``/``clean_exec_files`` directly."""
    ctx = ExecutionContext("alice", "lib-exec", agent_id="block_agent")
    install_result = store_media_file("data:text/plain,hello%20block", ctx,
                                      "for_local_processing")
    path = media.dirs.path("alice", "lib-exec") / install_result
    assert path.read_bytes() == b"hello block"
    assert store_media_file(install_result, ctx, "for_external_api") == \
        "data:text/plain;base64," + base64.b64encode(b"hello block").decode()
    assert clean_exec_files("lib-exec") == 1
    assert not path.parent.exists()


def test_the_http_answer_streams_large_data_uris(api, env, media, origin):
    payload = os.urandom(3 * MiB + 7)
    origin.routes["/big.bin"] = Route(body=payload)
    response = post_media(api, {"file": origin.url("/big.bin"), "graph_exec_id": EXEC,
                                "return_format": "for_external_api"})
    assert response.status_code == 200
    answer = response.get_json()
    assert data_uri_bytes(answer["result"], answer["mime_type"]) == payload
    stored = media.store(ExecutionContext("alice", EXEC), origin.url("/big.bin"),
                         "for_external_api")
    pieces = list(stored.json_chunks())  # what the function streams, piece by piece
    assert len(pieces) > 4 and max(len(p) for p in pieces) <= 1024 * 1024
    assert b"".join(pieces) == response.data


# -- EICAR from every source --------------------------------------------------------------
def plant_infected_workspace_file() -> str:
    """A file stored while scanning was off (or before a signature update)."""
    settings = get_settings()
    unscanned = FileService(settings, factory.blob_store(), factory.metadata_store(),
                            DisabledScanner(), factory.signer())
    record = unscanned.write_stream(RequestContext("alice"), io.BytesIO(EICAR), "eicar.txt")
    return record.id


@pytest.mark.parametrize("return_format", FORMATS)
@pytest.mark.parametrize("kind", ["data_base64", "data_percent", "url", "workspace", "local"])
def test_eicar_is_rejected_from_every_source(api, env, media, origin, kind, return_format):
    if kind == "workspace":
        file = f"workspace://{plant_infected_workspace_file()}"
    else:
        file = prepare(kind, EICAR, api, media, origin, name="eicar.com")
    response = post_media(api, {"file": file, "return_format": return_format,
                                "graph_exec_id": EXEC, "session_id": "s1"},
                          headers={"X-Agent-Id": "a1", "X-Task-Id": "t1"})
    assert response.status_code == 422, response.data
    assert "EICAR" in response.get_json()["signature"]
    assert exec_files(env) == []  # nothing staged, nothing linked, the local copy deleted
    scans = api.get("/logs?operation_type=scan").get_json()
    assert [(e["details"]["verdict"], e["agent_id"], e["task_id"]) for e in scans] == [
        ("infected", "a1", "t1")]
    files = api.get("/files?include_all_sessions=true").get_json()
    assert all(f["filename"] != "eicar.com" for f in files)


def test_scanner_down_is_503_and_stores_nothing(api, env, origin, names, monkeypatch):
    monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(free_port()))
    factory.reset()
    install(monkeypatch, build_service([("127.0.0.1", origin.port)], names))
    origin.routes["/pic.png"] = Route(body=PNG)
    for file in ("data:image/png;base64," + base64.b64encode(PNG).decode(),
                 origin.url("/pic.png")):
        response = post_media(api, {"file": file, "return_format": "for_local_processing",
                                    "graph_exec_id": EXEC})
        assert response.status_code == 503, response.data
    assert exec_files(env) == []


# -- size limits ----------------------------------------------------------------------------
@pytest.fixture
def small_cap(env, origin, names, monkeypatch):
    """A 1 MiB file cap and a 2 MiB body cap."""
    monkeypatch.setenv("MAX_FILE_SIZE_MB", "1")
    monkeypatch.setenv("MEDIA_MAX_BODY_MB", "2")
    factory.reset()
    return install(monkeypatch, build_service([("127.0.0.1", origin.port)], names))


@pytest.mark.parametrize("kind", ["data_base64", "data_percent", "url", "url_undeclared",
                                  "local"])
def test_oversize_inputs_are_413(api, env, small_cap, origin, kind):
    big = b"\0" * (MiB + 1)
    if kind == "url_undeclared":
        origin.routes["/big"] = Route(stream_bytes=64 * MiB, send_length=False)
        file = origin.url("/big")
    elif kind == "data_percent":
        file = "data:," + "a" * (MiB + 1)
    else:
        file = prepare(kind, big, None, small_cap, origin, name="big.bin")
    response = post_media(api, {"file": file, "return_format": "for_local_processing",
                                "graph_exec_id": EXEC})
    assert response.status_code == 413, response.data
    assert response.get_json()["max_bytes"] == MiB
    leftovers = [f for f in exec_files(env) if not f.endswith("/big.bin")]
    assert leftovers == []  # (a local input stays where the block put it)


def test_a_body_over_the_media_body_cap_is_413(api, env, small_cap):
    body = {"file": "data:;base64," + "A" * (3 * MiB), "return_format": "for_external_api",
            "graph_exec_id": EXEC}
    response = post_media(api, body)
    assert response.status_code == 413
    assert "body is larger" in response.get_json()["error"]


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes that counts how much of it the server reads."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.size + offset if whence == 2 else \
            self.pos + offset
        return self.pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = b"A" * n
        self.pos += n
        self.read_bytes += n
        return n


def test_an_oversize_body_is_refused_unread(api, env, small_cap):
    """functions-framework would read the whole body after a plain response; the media
    function's answers are streamed, so a 413 from Content-Length reads nothing."""
    from tests.conftest import API

    body = CountingBody(64 * MiB)
    response = api.client.post(API + "/media", input_stream=body, content_length=body.size,
                               content_type="application/json", headers=api.headers())
    assert response.status_code == 413
    assert body.read_bytes == 0


def test_cap_edges_are_exact(api, env, small_cap):
    exact = os.urandom(MiB)
    response = post_media(api, {"file": "data:;base64," + base64.b64encode(exact).decode(),
                                "return_format": "for_local_processing",
                                "graph_exec_id": EXEC})
    assert response.status_code == 200, response.data
    stored = small_cap.dirs.path("alice", EXEC) / response.get_json()["result"]
    assert stored.read_bytes() == exact


# -- bad requests -----------------------------------------------------------------------------
BAD = [
    ({}, 400),
    ({"file": "data:,x", "return_format": "for_local_processing"}, 400),  # no exec id
    ({"file": "data:,x", "graph_exec_id": EXEC}, 400),  # no return format
    ({"file": "data:,x", "graph_exec_id": EXEC, "return_format": "for_printing"}, 400),
    ({"file": 7, "graph_exec_id": EXEC, "return_format": "for_external_api"}, 400),
    ({"file": "", "graph_exec_id": EXEC, "return_format": "for_external_api"}, 400),
    ({"file": "data:,x", "graph_exec_id": 5, "return_format": "for_external_api"}, 400),
    ({"file": "data:,x", "graph_exec_id": EXEC, "return_format": "for_external_api",
      "session_id": "../s"}, 400),
    ({"file": "data:,x", "graph_exec_id": EXEC, "return_format": "for_external_api",
      "surprise": 1}, 400),
    ({"file": "javascript:alert(1)", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 400),
    ({"file": "s3://bucket/x", "graph_exec_id": EXEC, "return_format": "for_external_api"}, 400),
    ({"file": "data:image/png;base64,***", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 400),
    ({"file": "workspace://", "graph_exec_id": EXEC, "return_format": "for_external_api"}, 400),
    ({"file": "workspace://a/b", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 400),
    ({"file": "workspace:///a.png#not a mime", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 400),
    ({"file": "workspace:///../etc/passwd", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 400),
    ({"file": "workspace://file_999999", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 404),
    ({"file": "workspace://nonsense", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 404),
    ({"file": "workspace:///nowhere.png", "graph_exec_id": EXEC,
      "return_format": "for_external_api"}, 404),
    ({"file": "missing.png", "graph_exec_id": EXEC, "return_format": "for_external_api"}, 404),
]


@pytest.mark.parametrize(("body", "status"), BAD)
def test_bad_requests_are_4xx_and_store_nothing(api, env, media, body, status):
    response = post_media(api, body)
    assert response.status_code == status, response.data
    assert response.get_json()["error"]
    assert exec_files(env) == []
    assert api.get("/logs?operation_type=create").get_json() == []


def test_non_json_bodies(api, env, media):
    from tests.conftest import API

    wrong_type = api.client.post(API + "/media", data="file=x", headers=api.headers(),
                                 content_type="application/x-www-form-urlencoded")
    assert wrong_type.status_code == 415
    not_object = api.client.post(API + "/media", data="[1]", headers=api.headers(),
                                 content_type="application/json")
    assert not_object.status_code == 400
    anonymous = api.client.post(API + "/media", data="{}", content_type="application/json")
    assert anonymous.status_code == 401


def test_another_users_workspace_file_is_a_404(api, env, media, origin):
    bobs = api.upload(b"bob's notes", "notes.txt", user="bob").get_json()
    for file in (f"workspace://{bobs['id']}", f"workspace://{bobs['path']}"):
        response = post_media(api, {"file": file, "graph_exec_id": EXEC,
                                    "return_format": "for_external_api"})
        assert response.status_code == 404  # alice has no such file
    api.delete(f"/files/{bobs['id']}", user="bob")
    deleted = post_media(api, {"file": f"workspace://{bobs['id']}", "graph_exec_id": EXEC,
                               "return_format": "for_external_api"}, user="bob")
    assert deleted.status_code == 404
    assert exec_files(env) == []


def test_exec_files_are_under_the_configured_root(env, media):
    assert Path(env["MEDIA_EXEC_ROOT"]) == media.dirs.root
