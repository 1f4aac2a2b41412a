"""Concurrent writers: one winner per live path, unique sequential file numbers.

Shown twice: threads against one in-process app, and threads spread over two real server
processes that share one storage directory (SQLite's lock is the only coordination).
"""

from __future__ import annotations

import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.conftest import API, Api

WRITERS = 16


def _inprocess_upload(app, name: str, body: bytes) -> tuple[int, dict]:
    client = Client(app, Response)
    response = client.post(API + "/files", data={"file": (io.BytesIO(body), name)},
                           headers=Api.headers("alice"), content_type="multipart/form-data")
    return response.status_code, response.json


def _http_upload(url: str, name: str, body: bytes) -> tuple[int, dict]:
    response = requests.post(url + API + "/files", files={"file": (name, body)},
                             headers=Api.headers("alice"), timeout=60)
    return response.status_code, response.json()


def _check_same_path(results: list[tuple[int, dict]]) -> None:
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: WRITERS - 1}, statuses
    assert all("error" in body for status, body in results if status == 409)


def _check_distinct(results: list[tuple[int, dict]]) -> None:
    assert all(status == 201 for status, _ in results), results
    numbers = sorted(int(body["id"].removeprefix("file_")) for _, body in results)
    assert numbers == list(range(1, WRITERS + 1))


def test_same_path_one_winner_in_process(env):
    from localdev.server import build_app

    app = build_app()
    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda i: _inprocess_upload(app, "same.txt", f"w{i}".encode()),
                                range(WRITERS)))
    _check_same_path(results)


def test_distinct_files_get_distinct_sequential_numbers_in_process(env):
    from localdev.server import build_app

    app = build_app()
    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda i: _inprocess_upload(app, f"f{i}.txt", b"x"),
                                range(WRITERS)))
    _check_distinct(results)


def test_same_path_one_winner_across_two_processes(servers):
    urls = [s.url for s in servers]
    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(
            lambda i: _http_upload(urls[i % 2], "same.txt", f"w{i}".encode()), range(WRITERS)))
    _check_same_path(results)
    listed = requests.get(urls[1] + API + "/files", headers=Api.headers("alice"), timeout=10)
    assert len(listed.json()) == 1


def test_distinct_numbers_across_two_processes(servers):
    urls = [s.url for s in servers]
    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda i: _http_upload(urls[i % 2], f"f{i}.txt", b"x"),
                                range(WRITERS)))
    _check_distinct(results)


def test_first_requests_of_a_new_user_share_one_workspace_across_processes(servers):
    urls = [s.url for s in servers]

    def overview(i: int) -> str:
        response = requests.get(urls[i % 2] + API, headers=Api.headers("newcomer"), timeout=10)
        assert response.status_code == 200
        return response.json()["workspace_id"]

    with ThreadPoolExecutor(WRITERS) as pool:
        ids = set(pool.map(overview, range(WRITERS)))
    assert len(ids) == 1


def test_memory_appends_never_lose_text_across_two_processes(servers):
    urls = [s.url for s in servers]
    writers, appends = 8, 50

    def writer(index: int) -> list[int]:
        session = requests.Session()
        statuses = []
        for n in range(appends):
            response = session.post(
                urls[index % 2] + API + "/memory", headers=Api.headers("alice"),
                json={"content": f"\n- marker w{index}-n{n};", "append": True}, timeout=60)
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(writers) as pool:
        statuses = [s for batch in pool.map(writer, range(writers)) for s in batch]
    assert set(statuses) == {200}
    memory = requests.get(urls[0] + API + "/memory", headers=Api.headers("alice"), timeout=10)
    content = memory.json()["content"]
    missing = [f"w{i}-n{n};" for i in range(writers) for n in range(appends)
               if f"marker w{i}-n{n};" not in content]
    assert missing == []
    assert memory.json()["version"] == writers * appends


def test_stale_memory_version_is_409_across_processes(servers):
    a, b = (s.url + API + "/memory" for s in servers)
    hdr = Api.headers("alice")
    version = requests.post(a, json={"content": "base"}, headers=hdr, timeout=10).json()["version"]
    assert requests.post(b, json={"content": "from b", "expected_version": version},
                         headers=hdr, timeout=10).status_code == 200
    stale = requests.post(a, json={"content": "from a", "expected_version": version},
                          headers=hdr, timeout=10)
    assert stale.status_code == 409
    assert requests.get(a, headers=hdr, timeout=10).json()["content"] == "from b"
