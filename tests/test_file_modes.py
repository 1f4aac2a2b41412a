"""Users' data on disk is private to the service's account (issue 16, item 9).

A real ``make run`` server process (``python -m localdev.server``) takes an upload, a memory
write and a media call; then every directory under the data dir and the media exec root is
0700 and every file 0600: the SQLite file and its -wal/-shm, blobs, staging, the signing key,
the exec dirs and their files. Before, they were 0755/0644: readable by every local user.
"""

from __future__ import annotations

import stat
from pathlib import Path

import requests

from localdev.process import LocalServer
from tests.conftest import API, Api, base_env


def _modes(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (and root itself) with its permission bits, in octal."""
    entries = [root, *root.rglob("*")]
    return {str(path.relative_to(root.parent)): oct(stat.S_IMODE(path.lstat().st_mode))
            for path in entries if not path.is_symlink()}


def test_a_real_server_keeps_data_private(tmp_path, clamd):
    storage = tmp_path / "storage"
    env = base_env(storage, clamd.port)
    server = LocalServer(tmp_path / "server", env, threads=4).start(timeout=60)
    try:
        headers = Api.headers("alice")
        upload = requests.post(f"{server.url}{API}/files", headers=headers, timeout=30,
                               files={"file": ("notes.txt", b"private notes\n")})
        assert upload.status_code == 201, upload.text
        memory = requests.post(f"{server.url}{API}/memory", headers=headers, timeout=30,
                               json={"content": "# Private\n\nmemory"})
        assert memory.status_code in {200, 201}, memory.text
        media = requests.post(f"{server.url}{API}/media", headers=headers, timeout=30, json={
            "file": "data:text/plain;base64,aGVsbG8=", "return_format": "for_local_processing",
            "graph_exec_id": "exec-1"})
        assert media.status_code == 200, media.text
        link = requests.get(f"{server.url}{API}/files/{upload.json()['id']}/content",
                            params={"redirect": "false"}, headers=headers,
                            timeout=30)  # a signed link: the signing key exists now
        assert link.status_code == 200 and link.json()["url"], link.text
        # While the server runs, so the database's -wal and -shm files are there too.
        found = {**_modes(storage), **_modes(Path(env["MEDIA_EXEC_ROOT"]))}
    finally:
        server.stop()
    names = " ".join(found)
    for expected in (".workspace.sqlite3", ".signing_key", ".staging", "notes.txt", "exec-1"):
        assert expected in names, (expected, sorted(found))
    assert any(name.endswith("-wal") for name in found), sorted(found)
    dirs = {name: mode for name, mode in found.items()
            if (tmp_path / name).is_dir()}
    files = {name: mode for name, mode in found.items() if name not in dirs}
    assert {name: mode for name, mode in dirs.items() if mode != "0o700"} == {}
    assert {name: mode for name, mode in files.items() if mode != "0o600"} == {}
