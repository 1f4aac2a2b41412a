"""Every acknowledged write is a version: history, reads of kept versions, expected_version,
and 16 concurrent overwriters over two real server processes, on every backend.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import API, Api

WRITERS, ROUNDS = 16, 50


def test_overwrites_keep_their_versions_readable(api, download):
    first = api.upload(b"one", "v.txt", headers={"X-Agent-Id": "writer-a"}).json
    second = api.upload(b"two!", "v.txt", overwrite="true").json
    third = api.upload(b"three", "v.txt", overwrite="true").json
    assert (first["version"], second["version"], third["version"]) == (1, 2, 3)
    assert first["id"] == second["id"] == third["id"]
    versions = api.get(f"/files/{first['id']}/versions").json
    assert [(v["version"], v["size_bytes"], v["live"]) for v in versions] == [
        (3, 5, True), (2, 4, False), (1, 3, False)]
    assert versions[2]["checksum"] == hashlib.sha256(b"one").hexdigest()
    assert versions[2]["created_by"] == "writer-a" and versions[2]["kept_until"]
    assert versions[0]["kept_until"] is None and all(v["available"] for v in versions)
    for number, body in ((1, b"one"), (2, b"two!"), (3, b"three")):
        status, data, _ = download(first["id"], query=f"?version={number}")
        assert (status, data) == (200, body), number
    assert download(first["id"])[1] == b"three"
    for bad, status in (("?version=9", 404), ("?version=x", 400), ("?version=-1", 400),
                        ("?versions=1", 400)):
        assert api.get(f"/files/{first['id']}/content{bad}").status_code == status, bad
    assert api.get(f"/files/{first['id']}/versions?x=1").status_code == 400
    log = api.get(f"/logs?resource_id={first['id']}").json
    assert sorted(e["details"]["version"] for e in log
                  if e["operation_type"] in {"create", "update"}) == [1, 2, 3]
    api.delete(f"/files/{first['id']}")
    assert api.get(f"/files/{first['id']}/versions").status_code == 404


def test_a_stale_expected_version_is_a_409_that_changes_nothing(api, backend):
    created = api.upload(b"base", "e.txt").json
    api.upload(b"newer", "e.txt", overwrite="true")
    before = backend.blob_snapshot()
    stale = api.upload(b"lost race", "e.txt", overwrite="true", expected_version="1")
    assert stale.status_code == 409
    assert stale.json["current_version"] == 2 and stale.json["expected_version"] == 1
    assert backend.blob_snapshot() == before
    assert api.get(f"/files/{created['id']}").json["version"] == 2
    fresh = api.upload(b"based on 2", "e.txt", overwrite="true", expected_version="2")
    assert fresh.status_code == 201 and fresh.json["version"] == 3
    assert api.upload(b"x", "e.txt", overwrite="true", expected_version="v2").status_code == 400


def _overwriter(base: str, index: int, acks: list, conflicts: list, lock: threading.Lock,
                start: threading.Barrier) -> None:
    session = requests.Session()
    headers = Api.headers("alice")
    start.wait(timeout=60)
    for round_ in range(ROUNDS):
        body = f"writer {index} round {round_} ".encode() * (1 + index % 3)
        fields = {"overwrite": "true"}
        if index % 2:  # half of the writers say which version they saw
            seen = session.get(f"{base}{API}/files?path=/hot/", headers=headers, timeout=60)
            fields["expected_version"] = str(seen.json()[0]["version"])
        answer = session.post(f"{base}{API}/files", files={"file": ("hot.txt", body)},
                              data={"path": "/hot/", **fields}, headers=headers, timeout=120)
        with lock:
            if answer.status_code == 201:
                acks.append((answer.json()["version"], body))
            elif answer.status_code == 409 and "expected_version" in fields:
                conflicts.append(answer.json())
            else:
                raise AssertionError((answer.status_code, answer.text))


def test_16_overwriters_50_rounds_every_ack_is_a_distinct_readable_version(servers):
    base = [s.url for s in servers]
    seed = requests.post(f"{base[0]}{API}/files", files={"file": ("hot.txt", b"seed")},
                         data={"path": "/hot/"}, headers=Api.headers("alice"), timeout=60)
    assert seed.status_code == 201
    file_id = seed.json()["id"]
    acks: list[tuple[int, bytes]] = [(1, b"seed")]
    conflicts: list[dict] = []
    lock, start = threading.Lock(), threading.Barrier(WRITERS)
    with ThreadPoolExecutor(WRITERS) as pool:
        jobs = [pool.submit(_overwriter, base[i % 2], i, acks, conflicts, lock, start)
                for i in range(WRITERS)]
        for job in jobs:
            job.result()
    versions = [v for v, _ in acks]
    repeated = [v for v, n in Counter(versions).items() if n > 1]
    assert repeated == [], "a version was acknowledged twice"
    assert sorted(versions) == list(range(1, len(acks) + 1))  # one total order, no gaps
    assert len(acks) + len(conflicts) == 1 + WRITERS * ROUNDS
    assert all(c["current_version"] != c["expected_version"] for c in conflicts)
    for version, body in acks:  # every acknowledged version reads back byte-exact
        response = requests.get(f"{base[version % 2]}{API}/files/{file_id}/content",
                                params={"version": version, "redirect": "false"},
                                headers=Api.headers("alice"), timeout=60)
        fetched = requests.get(response.json()["url"], timeout=60)  # no token: a signed link
        assert (fetched.status_code, fetched.content) == (200, body), version
    listed = requests.get(f"{base[0]}{API}/files/{file_id}/versions",
                          headers=Api.headers("alice"), timeout=60).json()
    assert [v["version"] for v in listed] == list(range(len(acks), 0, -1))
