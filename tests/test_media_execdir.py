"""Exec-dir hygiene: execution ids, per-user isolation, file names, symlinks, clean, sweep."""

from __future__ import annotations

import os
import time

import pytest

from localdev.origin import Route
from shared.errors import BadRequest
from shared.factory import clean_exec_files
from shared.media import ExecutionContext
from shared.media.execdir import ExecDirs, check_relative, sanitize_filename, user_key
from tests.conftest import API
from tests.media_fixtures import exec_files, post_media

EXEC = "exec-7"


def store(api, file: str, exec_id: str = EXEC, user: str = "alice", fmt: str =
          "for_local_processing"):
    return post_media(api, {"file": file, "return_format": fmt, "graph_exec_id": exec_id},
                      user=user)


@pytest.mark.parametrize("exec_id", ["..", "../x", "a/b", ".hidden", "", " ", "a b", "x" * 129,
                                     "%2e%2e", "a\\b", "é", "a\x00b", ".staging"])
def test_bad_execution_ids_are_400(api, env, media, exec_id):
    response = store(api, "data:,x", exec_id=exec_id)
    assert response.status_code == 400
    assert "graph_exec_id" in response.get_json()["error"]
    assert exec_files(env) == []


def test_each_user_and_execution_gets_its_own_dir(api, env, media):
    for user, exec_id in (("alice", "e1"), ("alice", "e2"), ("bob", "e1")):
        response = store(api, f"data:,{user}-{exec_id}", exec_id, user)
        assert response.status_code == 200
    dirs = {p.parent.relative_to(media.dirs.root).as_posix() for p in media.dirs.root.rglob("*")
            if p.is_file() and ".staging" not in p.parts}
    assert dirs == {f"{user_key('alice')}/e1", f"{user_key('alice')}/e2",
                    f"{user_key('bob')}/e1"}
    assert "alice" not in str(dirs)  # user ids never reach the file system


def test_one_user_cannot_read_anothers_exec_files(api, env, media):
    name = store(api, "data:text/plain,alice's secret").get_json()["result"]
    response = store(api, name, user="bob", fmt="for_external_api")
    assert response.status_code == 404
    assert store(api, name, fmt="for_external_api").status_code == 200


@pytest.mark.parametrize("path", ["../x.png", "/etc/passwd", "a/../../x", "./x", "a//b",
                                  "a\\b", "x\x00y", ".."])
def test_local_paths_cannot_leave_the_exec_dir(api, env, media, path):
    media.dirs.ensure("alice", EXEC)
    response = store(api, path)
    assert response.status_code == 400, response.data


def test_symlinks_are_never_followed(api, env, media, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the exec dir")
    directory = media.dirs.ensure("alice", EXEC)
    os.symlink(outside / "secret.txt", directory / "link.txt")
    os.symlink(outside, directory / "linkdir")
    os.mkfifo(directory / "pipe")
    for path in ("link.txt", "linkdir/secret.txt", "pipe"):
        response = store(api, path, fmt="for_external_api")
        assert response.status_code == 400, (path, response.data)
    (directory / "sub").mkdir()
    (directory / "sub" / "ok.txt").write_text("inside")
    assert store(api, "sub/ok.txt").get_json()["result"] == "sub/ok.txt"


def test_a_symlinked_exec_dir_is_refused(api, env, media, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    user_dir = media.dirs.root / user_key("alice")
    user_dir.mkdir(parents=True)
    os.symlink(target, user_dir / EXEC)
    response = store(api, "data:,x")
    assert response.status_code == 409
    assert list(target.iterdir()) == []
    assert store(api, "x.txt").status_code == 400  # and local reads do not pass through it


def test_file_names_are_sanitised_and_never_collide(api, env, media, origin):
    sneaky = "/dir/..%2F..%2Fsecret%2F.name!.png"  # decodes to ../../secret/.name!.png
    origin.routes[sneaky] = Route(body=b"a")
    origin.routes["/"] = Route(body=b"%PDF-1.4\n")
    names = []
    for path in (sneaky, sneaky, "/"):
        response = store(api, origin.url(path))
        assert response.status_code == 200, response.data
        names.append(response.get_json()["result"])
    assert names[0] == "name_.png"
    assert names[1].startswith("name_-") and names[1].endswith(".png")
    assert names[2] == "download.pdf"


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd", "passwd.bin"), (".bashrc", "bashrc.bin"), ("a b?c.PNG", "a_b_c.PNG"),
    ("", "file.bin"), ("...", "file.bin"), ("con.txt", "_con.txt"), ("x" * 400 + ".png",
                                                              "x" * 150 + ".png"),
    ("caf\u00e9.txt", "caf\u00e9.txt"), ("noext", "noext.bin"), ("a\\b\\c.gif", "c.gif"),
    ("-rf", "rf.bin"), ("--help.png", "help.png"), ("-", "file.bin")])
def test_sanitize_filename(raw, clean):
    assert sanitize_filename(raw, ".bin") == clean


def test_check_relative():
    assert check_relative("a/b.png") == ["a", "b.png"]
    for bad in ("", "/a", "a/../b", "a/./b", "a//b", "a\\b", "\x01"):
        with pytest.raises(BadRequest):
            check_relative(bad)


def test_clean_removes_one_users_execution(api, env, media):
    for user in ("alice", "bob"):
        assert store(api, "data:,one", user=user).status_code == 200
        assert store(api, "data:,two", user=user).status_code == 200
    response = api.delete(f"/media/{EXEC}", headers={"X-Agent-Id": "runner", "X-Task-Id": "t9"})
    assert response.status_code == 200
    assert response.get_json() == {"graph_exec_id": EXEC, "files_removed": 2}
    assert not media.dirs.path("alice", EXEC).exists()
    assert len(list(media.dirs.path("bob", EXEC).iterdir())) == 2  # bob's is untouched
    entry = api.get("/logs?operation_type=delete").get_json()[0]
    assert (entry["details"], entry["agent_id"], entry["task_id"]) == (
        {"media": "clean", "graph_exec_id": EXEC, "files_removed": 2}, "runner", "t9")
    assert api.delete(f"/media/{EXEC}").get_json()["files_removed"] == 0  # idempotent
    assert api.delete("/media/..%2F..").status_code in {400, 404}
    assert api.client.delete(API + f"/media/{EXEC}").status_code == 401


def test_library_clean_removes_every_users_dir_of_that_execution(api, env, media):
    for user in ("alice", "bob"):
        store(api, "data:,x", user=user)
    store(api, "data:,other", exec_id="other-exec")
    assert clean_exec_files(EXEC) == 2
    assert not media.dirs.path("alice", EXEC).exists()
    assert not media.dirs.path("bob", EXEC).exists()
    assert media.dirs.path("alice", "other-exec").exists()
    assert clean_exec_files(EXEC, ExecutionContext("alice", EXEC)) == 0


def test_stale_sweep(tmp_path):
    dirs = ExecDirs(tmp_path / "exec")
    old, fresh = dirs.ensure("alice", "old"), dirs.ensure("alice", "fresh")
    (old / "a.bin").write_bytes(b"a")
    (fresh / "b.bin").write_bytes(b"b")
    staged = dirs.stage()
    staged.write(b"left behind by a crash")
    staged.close()
    past = time.time() - 7200
    for path in (old, old / "a.bin", staged.path):  # type: ignore[attr-defined]
        os.utime(path, (past, past))
    assert dirs.sweep(3600) == {"exec_dirs_removed": 1, "staging_removed": 1}
    assert not old.exists() and (fresh / "b.bin").exists()
    os.utime(fresh / "b.bin", (past, past))  # a recently changed entry keeps its dir
    assert dirs.sweep(3600)["exec_dirs_removed"] == 0


def test_requests_sweep_opportunistically(api, env, media):
    old = media.dirs.ensure("bob", "abandoned")
    past = time.time() - 2 * media.ttl
    os.utime(old, (past, past))
    media._next_sweep = 0.0
    assert store(api, "data:,x").status_code == 200
    assert not old.exists()
