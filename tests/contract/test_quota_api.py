"""``WORKSPACE_QUOTA_MB`` counts every stored byte, on every path that stores bytes, and
``GET /usage`` says where they are: live files, kept versions, uploads in flight.
"""

from __future__ import annotations

import base64
import json

import pytest

from shared import factory
from tests.conftest import post_json

KiB = 1024


@pytest.fixture
def quota(api, monkeypatch):
    monkeypatch.setenv("WORKSPACE_QUOTA_MB", "1")
    factory.reset()
    return api


def usage(api) -> dict:
    response = api.get("/usage")
    assert response.status_code == 200
    return response.json


def test_usage_counts_live_and_kept_bytes(api):
    assert usage(api) == {"live_bytes": 0, "kept_bytes": 0, "in_flight_bytes": 0,
                          "used_bytes": 0, "quota_bytes": None, "remaining_bytes": None,
                          "file_count": 0}
    first = api.upload(b"a" * 100, "u.txt").json
    api.upload(b"b" * 40, "u.txt", overwrite="true")
    api.upload(b"c" * 10, "other.txt")
    assert usage(api) | {"quota_bytes": None} == {
        "live_bytes": 50, "kept_bytes": 100, "in_flight_bytes": 0, "used_bytes": 150,
        "quota_bytes": None, "remaining_bytes": None, "file_count": 2}
    api.delete(f"/files/{first['id']}")
    assert usage(api)["live_bytes"] == 10 and usage(api)["kept_bytes"] == 140


def test_multipart_uploads_stop_at_the_quota_while_streaming(quota, backend):
    assert quota.upload(b"x" * (700 * KiB), "a.bin").status_code == 201
    before = backend.blob_snapshot()
    over = quota.upload(b"y" * (400 * KiB), "b.bin")
    assert over.status_code == 413 and over.json["quota_bytes"] == 1024 * KiB
    assert "quota" in over.json["error"]
    assert backend.blob_snapshot() == before
    assert [f["filename"] for f in quota.get("/files").json] == ["a.bin"]
    assert usage(quota)["used_bytes"] == 700 * KiB
    assert usage(quota)["remaining_bytes"] == 324 * KiB


def test_kept_versions_count(quota):
    assert quota.upload(b"x" * (600 * KiB), "v.bin").status_code == 201
    # The old version stays kept (readable until retention), so both count.
    again = quota.upload(b"z" * (600 * KiB), "v.bin", overwrite="true")
    assert again.status_code == 413
    assert quota.upload(b"z" * (300 * KiB), "v.bin", overwrite="true").status_code == 201
    assert usage(quota)["kept_bytes"] == 600 * KiB


def test_media_saves_count_against_the_quota(quota):
    assert quota.upload(b"x" * (900 * KiB), "big.bin").status_code == 201
    data = base64.b64encode(b"m" * (200 * KiB)).decode()
    body = {"file": f"data:application/octet-stream;base64,{data}",
            "return_format": "for_block_output", "graph_exec_id": "q1", "session_id": "s1"}
    saved = post_json(quota, "/media", body)
    assert saved.status_code == 413, saved.json
    assert [f["filename"] for f in quota.get("/files?include_all_sessions=true").json] == \
        ["big.bin"]
    small = {**body, "file": "data:text/plain,hello"}
    assert json.loads(post_json(quota, "/media", small).data)["result"].startswith("workspace://")
