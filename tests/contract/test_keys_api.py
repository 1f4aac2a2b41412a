"""Workspace API keys over HTTP, on both backend pairs: create, list, use, scopes (403),
revoke (401 at once), expiry, attribution, the log, bad input and the rate limit (429).

The in-process app serves most tests; the last ones run two real server processes on one
backend, so the bucket and revocation are shown shared across processes.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shared import factory
from shared.apikeys import secret
from shared.models import ApiKey
from shared.timeutil import plus_seconds, utcnow
from tests.conftest import API, Api, post_json
from tests.metadata_helpers import entry

ALL_SCOPES = ["files:read", "files:write", "memory:read", "memory:write", "logs:read", "media"]


def create(api: Api, scopes: list[str], user: str = "alice", **extra: object) -> dict:
    response = post_json(api, "/keys", {"name": "test key", "scopes": scopes, **extra}, user)
    assert response.status_code == 201, response.json
    return response.json


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def test_create_answers_the_secret_once_and_lists_without_it(api):
    created = create(api, ["files:read", "logs:read"], agent_id="ci_bot", expires_in_days=7)
    assert set(created) == {"id", "key", "prefix", "name", "scopes", "agent_id", "created_at",
                            "expires_at", "last_used_at"}
    key = created["key"]
    assert key.startswith("wsk_") and key.startswith(created["prefix"]) and len(key) == 57
    assert created["id"].startswith("key_") and created["scopes"] == ["files:read", "logs:read"]
    assert created["agent_id"] == "ci_bot" and created["last_used_at"] is None
    assert created["expires_at"] == plus_seconds(created["created_at"], 7 * 86400)
    listed = api.get("/keys").json
    assert listed == [{k: v for k, v in created.items() if k != "key"}]
    assert api.get("/keys", user="bob").json == []
    stored = factory.metadata_store().get_key(created["id"])
    assert stored.secret_hash == secret.digest(key) and key not in json.dumps(stored.to_api())


def test_a_files_read_key_reads_files_and_gets_403_naming_each_missing_scope(api):
    assert api.upload(b"visible", "v.txt").status_code == 201
    key = bearer(create(api, ["files:read"])["key"])
    assert [f["filename"] for f in api.get("/files", headers=key).json] == ["v.txt"]
    assert api.get("/files/count", headers=key).json == {"count": 1}
    assert api.get("/usage", headers=key).status_code == 200
    assert api.get("/search?query=visible&types=files", headers=key).status_code == 200
    refused = {
        "files:write": api.upload(b"no", "n.txt", headers=key),
        "memory:write": post_json(api, "/memory", {"content": "no"}, headers=key),
        "memory:read": api.get("/memory", headers=key),
        "logs:read": api.get("/logs", headers=key),
        "media": post_json(api, "/media", {"file": "data:,x", "return_format":
                                           "for_local_processing", "graph_exec_id": "e1"},
                           headers=key),
    }
    for scope, response in refused.items():
        assert response.status_code == 403, (scope, response.json)
        assert response.json["missing_scope"] == scope and scope in response.json["error"]
    assert api.get("/search?query=visible", headers=key).json["missing_scope"] == "memory:read"
    assert api.get("/summary", headers=key).status_code == 403
    assert api.delete("/files/file_000001", headers=key).json["missing_scope"] == "files:write"
    assert [f["filename"] for f in api.get("/files").json] == ["v.txt"]  # nothing changed
    assert api.get("/memory").json["version"] == 0


def test_a_key_with_every_scope_reaches_everything_but_key_management(api):
    key = bearer(create(api, ALL_SCOPES)["key"])
    assert api.upload(b"ok", "ok.txt", headers=key).status_code == 201
    assert post_json(api, "/memory", {"content": "ok"}, headers=key).status_code == 200
    for path in ("/summary", "", "/logs", "/search?query=ok", "/memory/versions"):
        assert api.get(path, headers=key).status_code == 200, path
    for response in (post_json(api, "/keys", {"name": "child", "scopes": ["files:read"]},
                               headers=key),
                     api.get("/keys", headers=key),
                     api.delete("/keys/key_whatever", headers=key)):
        assert response.status_code == 403
        assert "missing_scope" not in response.json and "API key" in response.json["error"]
    assert len(api.get("/keys").json) == 1


def test_revoke_is_effective_on_the_next_request_and_is_logged(api):
    created = create(api, ["files:read"])
    key = bearer(created["key"])
    assert api.get("/files", headers=key).status_code == 200
    revoked = api.delete(f"/keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json["id"] == created["id"]
    assert "key" not in revoked.json
    after = api.get("/files", headers=key)
    assert after.status_code == 401 and after.json == {"error": "invalid or revoked API key"}
    assert api.get("/keys").json == []
    assert api.delete(f"/keys/{created['id']}").status_code == 404
    entries = api.get("/logs?resource_type=key").json
    assert [(e["operation_type"], e["resource_id"]) for e in entries] == [
        ("delete", created["id"]), ("create", created["id"])]
    assert entries[1]["details"] == {"name": "test key", "prefix": created["prefix"],
                                     "scopes": ["files:read"], "agent_id": None,
                                     "expires_at": None}
    everything = json.dumps(api.get("/logs").json)
    assert created["key"] not in everything and secret.digest(created["key"]) not in everything


def test_only_the_owner_revokes_and_unknown_ids_are_404(api):
    created = create(api, ["files:read"])
    assert api.delete(f"/keys/{created['id']}", user="bob").status_code == 404
    assert api.delete("/keys/key_0000000000").status_code == 404
    assert api.delete("/keys/..%2Fx").status_code == 404
    assert api.get("/files", headers=bearer(created["key"])).status_code == 200


def test_a_key_acts_as_its_agent_and_writes_say_which_key(api):
    created = create(api, ["files:read", "files:write", "memory:write", "logs:read"],
                     agent_id="ingest_bot")
    key = bearer(created["key"])
    record = api.upload(b"by key", "k.txt", headers=key).json
    assert record["created_by"] == "ingest_bot"
    named = api.upload(b"named", "n.txt", headers={**key, "X-Agent-Id": "other_agent"}).json
    assert named["created_by"] == "other_agent"  # the header wins over the key's default
    post_json(api, "/memory", {"content": "from the key"}, headers=key)
    entries = {(e["operation_type"], e["resource_type"], e["resource_id"]): e
               for e in api.get("/logs", headers=key).json}
    upload = entries[("create", "file", record["id"])]
    assert upload["agent_id"] == "ingest_bot" and upload["details"]["api_key"] == created["id"]
    memory = entries[("create", "memory", "global_memory")]
    assert memory["agent_id"] == "ingest_bot" and memory["details"]["api_key"] == created["id"]
    assert api.get("/memory").json["updated_by"] == "ingest_bot"
    assert "api_key" not in entries[("create", "key", created["id"])]["details"]


def test_last_used_at_is_set_on_use_and_not_rewritten_within_a_minute(api):
    created = create(api, ["files:read"])
    api.get("/files", headers=bearer(created["key"]))
    first = api.get("/keys").json[0]["last_used_at"]
    assert first is not None and first >= created["created_at"]
    api.get("/files", headers=bearer(created["key"]))
    assert api.get("/keys").json[0]["last_used_at"] == first


def test_expired_malformed_and_wrong_keys_are_401(api):
    store = factory.metadata_store()
    ws = store.get_or_create_workspace("alice").id
    key_id, key = secret.new_key()
    past = plus_seconds(utcnow(), -3600)
    old = ApiKey(key_id, ws, "alice", "old", secret.digest(key), ("files:read",), None,
                 plus_seconds(past, -86400), past)
    assert store.create_key(old, entry("create", key_id, rtype="key"))
    assert api.get("/files", headers=bearer(key)).json == {"error": "the API key has expired"}
    good = create(api, ["files:read"])["key"]
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")  # right id, wrong secret
    for token in (forged, "wsk_", "wsk_short", good + "x", good[:14] + "!" * 43):
        response = api.get("/files", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.json == {"error": "invalid or revoked API key"}


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": ["files:delete"]},
    {"name": "x", "scopes": []},
    {"name": "x", "scopes": "files:read"},
    {"name": "x", "scopes": ["files:read", "files:read"]},
    {"name": "x", "scopes": [1]},
    {"name": "x" * 101, "scopes": ["files:read"]},
    {"name": "   ", "scopes": ["files:read"]},
    {"name": "a\u202eb", "scopes": ["files:read"]},
    {"name": 5, "scopes": ["files:read"]},
    {"scopes": ["files:read"]},
    {"name": "x"},
    {"name": "x", "scopes": ["files:read"], "expires_in_days": 0},
    {"name": "x", "scopes": ["files:read"], "expires_in_days": 3651},
    {"name": "x", "scopes": ["files:read"], "expires_in_days": "7"},
    {"name": "x", "scopes": ["files:read"], "expires_in_days": True},
    {"name": "x", "scopes": ["files:read"], "expires_in_days": 1.5},
    {"name": "x", "scopes": ["files:read"], "agent_id": "has space"},
    {"name": "x", "scopes": ["files:read"], "agent_id": 7},
    {"name": "x", "scopes": ["files:read"], "surprise": 1},
    ["files:read"],
])
def test_bad_create_bodies_are_400_and_create_nothing(api, body):
    response = post_json(api, "/keys", body)
    assert response.status_code == 400, response.json
    assert isinstance(response.json["error"], str)
    assert api.get("/keys").json == []


def test_create_refuses_other_content_types_and_list_refuses_arguments(api):
    response = api.client.post(API + "/keys", data="name=x", headers=api.headers(),
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert api.get("/keys?limit=5").status_code == 400


def test_a_key_over_its_rate_gets_429_with_retry_after(api, monkeypatch):
    monkeypatch.setenv("API_KEY_RATE_PER_MINUTE", "3")
    factory.reset()
    first, other = bearer(create(api, ["files:read"])["key"]), bearer(
        create(api, ["files:read"])["key"])
    assert [api.get("/files", headers=first).status_code for _ in range(3)] == [200] * 3
    refused = api.get("/files", headers=first)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(refused.json["retry_after"])
    assert 1 <= refused.json["retry_after"] <= 20 and "3 requests a minute" in refused.json["error"]
    assert api.get("/files", headers=other).status_code == 200  # buckets are per key
    assert api.get("/files").status_code == 200  # users' tokens are not metered


# -- two real server processes on one backend ------------------------------------------------
@pytest.fixture
def server_env() -> dict[str, str]:
    """Both servers meter keys at 10 requests a minute."""
    return {"API_KEY_RATE_PER_MINUTE": "10"}


def _user_post(url: str, body: dict) -> dict:
    response = requests.post(url + API + "/keys", json=body, headers=Api.headers("alice"),
                             timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_bucket_and_revocation_are_shared_by_two_processes(servers):
    a, b = servers
    created = _user_post(a.url, {"name": "shared", "scopes": ["files:read"]})
    key = bearer(created["key"])
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(
            lambda i: requests.get((a, b)[i % 2].url + API + "/files/count", headers=key,
                                   timeout=60).status_code, range(24)))
    refilled = (time.monotonic() - started) * 10 / 60  # tokens that came back meanwhile
    assert set(statuses) == {200, 429}, statuses
    assert 10 <= statuses.count(200) <= 10 + int(refilled) + 1, statuses
    over = requests.get(b.url + API + "/files/count", headers=key, timeout=30)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    other = _user_post(b.url, {"name": "fresh", "scopes": ["files:read"]})
    assert requests.get(a.url + API + "/files/count", headers=bearer(other["key"]),
                        timeout=30).status_code == 200
    revoked = requests.delete(a.url + API + f"/keys/{other['id']}", headers=Api.headers("alice"),
                              timeout=30)
    assert revoked.status_code == 200
    after = requests.get(b.url + API + "/files/count", headers=bearer(other["key"]), timeout=30)
    assert after.status_code == 401
