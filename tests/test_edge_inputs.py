"""Inputs found by review: each once gave a 500, grew memory, or leaked; now a clean 4xx."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shared.errors import BackendUnavailable, PayloadTooLarge
from shared.files.multipart import read_form
from tests.conftest import API, post_json, storage_snapshot

BOUNDARY = "edgeboundary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _part(content: bytes = b"x") -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.txt"'
            f"\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


class _Sink:
    """A form handler that accepts every part (only read_form's own limits apply)."""

    def __init__(self) -> None:
        self.size = 0
        self.fields: list[tuple[str, str]] = []

    def field(self, name: str, value: str) -> None:
        self.fields.append((name, value))

    def file_start(self, filename: str, content_type: str | None) -> None:
        pass

    def file_data(self, chunk: bytes) -> None:
        self.size += len(chunk)


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def test_junk_before_the_first_boundary_is_refused_not_buffered(api, env):
    body = b"j" * (3 * 1024 * 1024) + _part()
    response = api.client.post("/api/assistant/workspace/files", data=body,
                               headers=api.headers(), content_type=CTYPE)
    assert response.status_code == 413
    assert storage_snapshot(Path(env["WORKSPACE_STORAGE_DIR"])) == {}


def test_reading_stops_at_the_closing_boundary():
    stream = _CountingStream(_part() + b"j" * (8 * 1024 * 1024))
    read_form(stream, CTYPE, "file", _Sink(), max_total=10**9)
    assert stream.consumed <= 2 * 1024 * 1024, "the epilogue must not be read to its end"


def test_total_bytes_are_capped_without_a_content_length():
    with pytest.raises(PayloadTooLarge):
        read_form(io.BytesIO(_part(b"z" * 3_000_000)), CTYPE, "file", _Sink(),
                  max_total=2_000_000)


def test_more_than_100_parts_is_413_whatever_the_fields():
    fields = b"".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{i}"'
                      f"\r\n\r\nv\r\n".encode() for i in range(100))
    sink = _Sink()
    with pytest.raises(PayloadTooLarge):
        read_form(io.BytesIO(fields + _part()), CTYPE, "file", sink, max_total=10**9)
    assert len(sink.fields) == 100 and sink.size == 0  # the 101st part is never opened


@pytest.mark.parametrize("metadata", ["[" * 5000, '{"a": NaN}', '{"a": 1e999}',
                                      '{"a": Infinity}'])
def test_metadata_must_be_strict_json(api, env, metadata):
    response = api.upload(b"x", "x.txt", metadata=metadata)
    assert response.status_code == 400 and "metadata" in response.json["error"]
    assert storage_snapshot(Path(env["WORKSPACE_STORAGE_DIR"])) == {}


@pytest.mark.parametrize("raw", [b"[" * 5000, b'{"content": NaN}', b'{"content": "x", "a": 1e999}'])
def test_memory_body_must_be_strict_json(api, raw):
    response = api.client.post("/api/assistant/workspace/memory", data=raw,
                               headers=api.headers(), content_type="application/json")
    assert response.status_code == 400
    assert api.get("/memory").json["version"] == 0


@pytest.mark.parametrize("version", ["%C2%B2", "%D9%A1"])
def test_unicode_digits_are_not_versions(api, version):
    post_json(api, "/memory", {"content": "x"})
    assert api.get(f"/memory/versions/{version}").status_code == 400
    revert = api.client.post(f"/api/assistant/workspace/memory/versions/{version}/revert",
                             headers=api.headers())
    assert revert.status_code == 400
    assert post_json(api, "/memory", {"content": "y"},
                     headers={"If-Match": "\u00b2"}).status_code == 400


def test_non_ascii_signature_is_a_404_not_a_crash(api):
    file_id = api.upload(b"x", "x.txt").json["id"]
    url = api.get(f"/files/{file_id}/content?redirect=false").json["url"]
    path = url.split("localhost", 1)[1].rsplit("sig=", 1)[0] + "sig=%C3%A9"
    response = api.client.get(path)
    assert response.status_code == 404 and "error" in response.json


@pytest.mark.parametrize("field,value", [("created_by", "bob\n"), ("session_id", "s1\n")])
def test_ids_with_a_trailing_newline_are_refused(api, env, field, value):
    response = api.upload(b"x", "x.txt", path="/x.txt", **{field: value})
    assert response.status_code == 400
    assert storage_snapshot(Path(env["WORKSPACE_STORAGE_DIR"])) == {}


def test_escaped_json_under_the_cap_is_accepted(api):
    text = "中" * 70_000  # json.dumps escapes each as \\uXXXX: 420 KB on the wire
    response = api.client.post("/api/assistant/workspace/memory", data=json.dumps(
        {"content": text}), headers=api.headers(), content_type="application/json")
    assert response.status_code == 200 and response.json["length"] == 70_000


def test_reading_a_memory_version_is_logged(api):
    post_json(api, "/memory", {"content": "v1"})
    api.get("/memory/versions/1")
    reads = api.get("/logs?resource_type=memory&operation_type=read").json
    assert len(reads) == 1 and reads[0]["details"]["version"] == 1


def test_public_health_names_backends_without_internal_details(api, env):
    body = api.client.get("/healthz").json
    text = json.dumps(body)
    assert env["WORKSPACE_STORAGE_DIR"] not in text and ".sqlite3" not in text
    assert body["backends"]["metadata"] == {"backend": "sqlite", "reachable": True}


def test_405_names_the_allowed_methods(api):
    response = api.client.put("/api/assistant/workspace/files", headers=api.headers())
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_a_commit_whose_answer_was_lost_keeps_its_blob(api, env):
    """A finalize that commits but then raises (a lost reply: a fault SQLite cannot cause,
    so it is simulated in a subclass) must return the file, not delete its bytes."""
    from shared import factory
    from shared.metadata.sqlite import SqliteMetadataStore

    class LostReply(SqliteMetadataStore):
        def finalize_file(self, *args, **kwargs):
            super().finalize_file(*args, **kwargs)
            raise BackendUnavailable("deadline exceeded")

    service = factory.file_service()
    service.meta = LostReply(env["WORKSPACE_STORAGE_DIR"])
    response = api.upload(b"kept bytes", "kept.txt")
    assert response.status_code == 201 and response.json["status"] == "ready"
    assert api.get(f"/files/{response.json['id']}/content").data == b"kept bytes"


@pytest.mark.parametrize("authorized", [True, False], ids=["413-by-length", "401-no-token"])
def test_refused_uploads_are_never_read_into_memory(api, authorized):
    """functions-framework reads the whole body after a non-streamed answer; every Router
    answer is streamed, so an upload refused up front (too large, no token) is never read."""
    from tests.test_media_store import CountingBody

    body = CountingBody(512 * 1024 * 1024)
    headers = api.headers() if authorized else {}
    response = api.client.post(API + "/files", input_stream=body, content_length=body.size,
                               content_type="multipart/form-data; boundary=x", headers=headers)
    assert response.status_code == (413 if authorized else 401)
    assert body.read_bytes == 0
    assert "error" in response.get_json()
