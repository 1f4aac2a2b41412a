"""A folder move while other clients list, and a Firestore move as a resumable operation.

The guarantee on both backends: every answer a reader gets comes from one snapshot, in
which each file is in exactly one place, so no answer shows a file in two folders or in
none. On SQLite the whole folder moves in one transaction (a reader sees it before or
after). On Firestore it moves in steps; between steps a reader sees some files still in
the source and the rest in the target, and the move's status says how far it got.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import factory
from shared.metadata.firestore import moves
from shared.timeutil import plus_seconds, utcnow
from tests.conftest import Api, post_json
from tests.metadata_helpers import put

FILES = 500
SIZE = 5  # bytes per seeded file (tests.metadata_helpers.facts)


def seed(count: int, folder: str = "/big/") -> dict[str, str]:
    """``count`` ready files under ``folder`` (straight through the store: the move and the
    listings read records only); returns id -> path."""
    store = factory.metadata_store()
    ws = store.get_or_create_workspace("alice").id
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: put(store, ws, f"{folder}f{i:04d}.txt"), range(count)))
    return {r.id: r.path for r in made}


def budget(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Set how long one POST (or sweep) drives a move; 0 means one step per call."""
    monkeypatch.setenv("FOLDER_MOVE_BUDGET_SECONDS", str(seconds))
    factory.reset()


def totals(api: Api) -> dict[str, tuple[int, int]]:
    """The root's folders as path -> (file_count, total_bytes), from one answer."""
    listed = api.get("/folders?path=/")
    assert listed.status_code == 200, listed.json
    return {f["path"]: (f["file_count"], f["total_bytes"]) for f in listed.json["folders"]}


class Lister:
    """Another client listing in a loop: the root's folder totals, or the whole file list.

    ``views`` holds (files under /big/, files under /moved/) for each answer.
    """

    def __init__(self, api: Api, seeded: dict[str, str], what: str) -> None:
        self.api, self.seeded, self.what = api, seeded, what
        self.stop, self.views, self.problems = threading.Event(), [], []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.views.append(self.folders() if self.what == "folders" else self.files())

    def folders(self) -> tuple[int, int]:
        view = totals(self.api)
        counts = (view.get("/big/", (0, 0))[0], view.get("/moved/", (0, 0))[0])
        if sum(counts) != FILES or sum(b for _, b in view.values()) != FILES * SIZE:
            self.problems.append(view)
        return counts

    def files(self) -> tuple[int, int]:
        listed = self.api.get("/files?path=/&limit=1000").json
        if sorted(f["id"] for f in listed) != sorted(self.seeded):
            self.problems.append([f["id"] for f in listed])
        moved = 0
        for record in listed:
            before = self.seeded.get(record["id"], "")
            moved += record["path"] == before.replace("/big/", "/moved/", 1)
            if record["path"] not in (before, before.replace("/big/", "/moved/", 1)):
                self.problems.append(record["path"])
        return len(listed) - moved, moved

    def __enter__(self) -> Lister:
        self.thread.start()
        while not self.views and not self.problems:  # it has seen the folder before
            self.stop.wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        seen = len(self.views)
        while len(self.views) == seen and not self.problems:  # and once after the move
            self.stop.wait(0.01)
        self.stop.set()
        self.thread.join(60)


def test_a_500_file_move_while_others_list_never_shows_a_file_twice_or_not_at_all(
        api, backend, monkeypatch):
    seeded = seed(FILES)
    budget(monkeypatch, 0)  # Firestore: one step per POST, so readers see every stage
    statuses = []
    with Lister(api, seeded, "folders") as first, Lister(api, seeded, "files") as second:
        while True:
            answer = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
            assert answer.status_code in (200, 202), answer.json
            move = answer.json
            statuses.append((move["status"], move["files_moved"]))
            if answer.status_code == 200:
                break
            assert answer.headers["Location"].endswith(f"/folders/moves/{move['id']}")
            assert api.get(f"/folders/moves/{move['id']}").json["status"] == move["status"]
            # Between steps, one answer shows exactly the files moved so far at the target.
            view = totals(api)
            assert view.get("/moved/", (0, 0))[0] == move["files_moved"]
            assert view.get("/big/", (0, 0))[0] == FILES - move["files_moved"]
    for lister in (first, second):
        assert lister.problems == []
        assert lister.views[0] == (FILES, 0) and lister.views[-1] == (0, FILES)
    assert statuses[-1] == ("done", FILES)
    if backend.atomic_folder_moves:
        assert statuses == [("done", FILES)]
        assert set(first.views + second.views) <= {(FILES, 0), (0, FILES)}
    else:  # claiming (400 a step), then batches of 100 files, each step a snapshot apart
        assert statuses == [("claiming", 0)] * 2 + [
            ("moving", n) for n in range(0, FILES + 1, 100)] + [("done", FILES)]
    logged = api.get("/logs?operation_type=update&limit=1000").json
    assert sorted(e["resource_id"] for e in logged) == sorted(seeded)


@pytest.fixture
def small_steps(monkeypatch):
    """Firestore claims 50 and moves 40 files a step here, so 120 files take several."""
    monkeypatch.setattr(moves, "CLAIM_CHUNK", 50)
    monkeypatch.setattr(moves, "MOVE_CHUNK", 40)
    budget(monkeypatch, 0)


def test_a_running_move_is_resumed_by_the_same_post_and_locks_out_others(
        api, backend, small_steps):
    seed(120)
    first = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    if backend.atomic_folder_moves:
        assert first.status_code == 200 and first.json["files_moved"] == 120
        return
    assert first.status_code == 202 and first.json["status"] == "claiming"
    other = post_json(api, "/folders/move", {"from": "/elsewhere/", "to": "/x/"})
    assert other.status_code == 409 and other.json["operation_id"] == first.json["id"]
    claimed = api.upload(b"x", "f0000.txt", path="/moved/")  # its target is held
    assert claimed.status_code == 409 and claimed.json["operation_id"] == first.json["id"]
    same = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    assert same.json["id"] == first.json["id"]  # resumed, not started again
    while same.status_code == 202:
        same = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    assert same.json["status"] == "done" and same.json["files_moved"] == 120
    assert totals(api) == {"/moved/": (120, 600)}
    assert post_json(api, "/folders/move", {"from": "/moved/", "to": "/x/"}).status_code in (
        200, 202)  # the lock is gone


def test_the_sweep_resumes_an_idle_move_and_forgets_it_after_a_week(api, small_steps):
    seed(120)
    started = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"}).json
    service = factory.folder_service()
    later = plus_seconds(utcnow(), 120)  # past the idle time: the sweep picks it up
    for _ in range(20):
        if api.get(f"/folders/moves/{started['id']}").json["status"] == "done":
            break
        assert service.redrive(now=later)["folder_moves_resumed"] == 1
    status = api.get(f"/folders/moves/{started['id']}").json
    assert (status["status"], status["files_moved"]) == ("done", 120)
    assert totals(api) == {"/moved/": (120, 600)}
    assert service.redrive(now=later) == {"folder_moves_resumed": 0,
                                          "folder_moves_forgotten": 0}
    report = factory.maintenance().folders.redrive(now=plus_seconds(utcnow(), 8 * 86400))
    assert report == {"folder_moves_resumed": 0, "folder_moves_forgotten": 1}
    assert api.get(f"/folders/moves/{started['id']}").status_code == 404


def test_a_conflict_found_in_a_later_claim_step_gives_every_claim_back(
        api, backend, small_steps):
    seed(120)
    api.upload(b"mine", "f0100.txt", path="/moved/")  # the target of the 101st file
    answer = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    while answer.status_code == 202:  # claims 50, 50, then finds the taken path
        answer = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    assert answer.status_code == 409, answer.json
    assert answer.json["conflicts"] == [{"path": "/moved/f0100.txt", "file_id": "file_000121",
                                         "reason": "taken"}]
    assert totals(api) == {"/big/": (120, 600), "/moved/": (1, 4)}
    assert api.get("/logs?operation_type=update").json == []
    if not backend.atomic_folder_moves:
        status = api.get(f"/folders/moves/{answer.json['operation_id']}").json
        assert status["status"] == "failed" and status["files_moved"] == 0
        assert status["conflicts"] == answer.json["conflicts"]
    # Nothing is held any more: the first target path takes an upload, a new move runs.
    assert api.upload(b"x", "f0000.txt", path="/moved/").status_code == 201
    api.delete("/files/file_000121")
    api.delete("/files/file_000122")
    budget_free = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    while budget_free.status_code == 202:
        budget_free = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})
    assert budget_free.status_code == 200 and budget_free.json["files_moved"] == 120


def test_drivers_racing_on_one_move_do_each_step_once(api, small_steps):
    """A repeated POST and the sweep may drive the same move at the same time: every step
    is preconditioned on the move's document, so each file moves and is logged once."""
    seeded = seed(120)
    started = post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"}).json
    service, later = factory.folder_service(), plus_seconds(utcnow(), 120)

    def drive(i: int) -> None:
        for _ in range(40):
            if api.get(f"/folders/moves/{started['id']}").json["status"] == "done":
                return
            if i % 2:
                service.redrive(now=later)
            else:
                post_json(api, "/folders/move", {"from": "/big/", "to": "/moved/"})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drive, range(4)))
    status = api.get(f"/folders/moves/{started['id']}").json
    assert (status["status"], status["files_total"], status["files_moved"]) == ("done", 120, 120)
    assert totals(api) == {"/moved/": (120, 600)}
    logged = api.get("/logs?operation_type=update&limit=1000").json
    assert sorted(e["resource_id"] for e in logged) == sorted(seeded)  # once each
