"""The sweep's direct-upload duties, through ``Maintenance.run`` (what ``make sweep`` and the
``sweep`` function run) on fake-gcs-server buckets and SQLite:

- an expired ticket frees its reservation (the path, the quota) and is deleted;
- a reservation a live ticket answers for is never released, however old;
- old event locks are purged, fresh ones kept;
- a landed object whose finalize event was lost is re-driven (and waits while the scanner
  is down).

Time is moved by ageing what is stored (a doc's due date), or by the files' staleness
threshold, never by sleeping.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from shared import factory
from shared.files.maintenance import FileMaintenance
from shared.metadata.base import Doc
from shared.models import FileDraft
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.locks import LOCKS
from shared.uploads.tickets import TICKETS, parse_incoming, ticket_key
from tests.conftest import EICAR, post_json
from tests.direct_fixtures import Landing
from tests.fake_scanners import FakeClamd

PAST = -7200  # seconds: well past any due date


def age(doc: Doc) -> None:
    """Make a doc due now, as if its time had passed."""
    meta = factory.metadata_store()
    assert meta.replace_doc(doc, doc.data, plus_seconds(utcnow(), PAST)) is not None


def ticket_doc(landing: Landing, ticket: dict[str, Any]) -> Doc | None:
    workspace_id, file_id = parse_incoming(landing.name(ticket)) or ("", "")
    return factory.metadata_store().get_doc(TICKETS, ticket_key(workspace_id, file_id))


def files_stale_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pending reservation counts as stale for the files' sweep (threshold -1 s)."""
    files = factory.maintenance().files
    monkeypatch.setattr(files, "sweep", functools.partial(FileMaintenance.sweep, files, -1))


def test_an_expired_ticket_frees_its_reservation(landing: Landing) -> None:
    ticket = landing.issue(b"never uploaded", filename="plan.txt")
    assert landing.record(ticket["file_id"])["status"] == "pending"
    again = post_json(landing.api, "/files/upload-url",
                      {"filename": "plan.txt", "size_bytes": 3, "mime_type": "text/plain"})
    assert again.status_code == 409  # the path is held
    doc = ticket_doc(landing, ticket)
    assert doc is not None
    assert factory.maintenance().run()["tickets_expired"] == 0  # not due yet: kept
    age(doc)

    report = factory.maintenance().run()
    assert report["tickets_expired"] == 1
    assert ticket_doc(landing, ticket) is None
    assert landing.api.get(f"/files/{ticket['file_id']}").status_code == 404
    assert landing.api.get("/files").get_json() == []
    assert landing.api.upload(b"the path is free", "plan.txt").status_code == 201


def test_an_expired_overwrite_ticket_keeps_the_live_version(landing: Landing) -> None:
    live = landing.api.upload(b"version one", "doc.txt").get_json()
    ticket = landing.issue(b"version two!", filename="doc.txt", overwrite=True)
    assert ticket["file_id"] == live["id"] and ticket["version"] == 2
    age(ticket_doc(landing, ticket))
    assert factory.maintenance().run()["tickets_expired"] == 1
    record = landing.record(live["id"])
    assert (record["status"], record["version"]) == ("ready", 1)
    assert landing.download(live["id"]) == (200, b"version one")
    retry = landing.issue(b"version two!", filename="doc.txt", overwrite=True)  # not a 409
    assert retry["file_id"] == live["id"] and retry["version"] > 1


def test_a_reservation_with_a_live_ticket_is_never_released(
        landing: Landing, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = landing.issue(b"uploading slowly", filename="slow.txt")
    meta = factory.metadata_store()
    workspace = meta.get_or_create_workspace("alice")
    crashed = meta.reserve_file(workspace.id, FileDraft(
        filename="crash.txt", path="/crash.txt", session_id=None, description="", tags=(),
        created_by=None, metadata={}), overwrite=False)  # an inline upload that died
    files_stale_now(monkeypatch)

    report = factory.maintenance().run()
    assert report["reservations_released"] == 1  # the crashed one: the sweep did run
    assert landing.api.get(f"/files/{crashed.file_id}").status_code == 404
    assert landing.record(ticket["file_id"])["status"] == "pending"  # the ticket's: kept
    assert ticket_doc(landing, ticket) is not None
    # The upload still completes afterwards.
    generation = landing.put(ticket, b"uploading slowly")
    assert landing.process(landing.name(ticket), generation) == "ready"
    assert landing.download(ticket["file_id"]) == (200, b"uploading slowly")


def test_old_event_locks_are_purged(landing: Landing) -> None:
    names = []
    for index in range(2):
        content = f"locked {index}".encode()
        ticket = landing.issue(content, filename=f"l{index}.txt")
        generation = landing.put(ticket, content)
        assert landing.process(landing.name(ticket), generation) == "ready"
        names.append(f"{landing.incoming}/{landing.name(ticket)}#{generation}")
    meta = factory.metadata_store()
    old, fresh = (meta.get_doc(LOCKS, name) for name in names)
    assert old is not None and fresh is not None and old.data["state"] == "done"
    age(old)

    assert factory.maintenance().run()["claims_purged"] == 1
    assert meta.get_doc(LOCKS, names[0]) is None
    assert meta.get_doc(LOCKS, names[1]) is not None


def test_a_lost_event_is_redriven(landing: Landing, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = landing.issue(b"its event was lost", filename="lost.txt")
    landing.put(clean, b"its event was lost")
    infected = landing.issue(EICAR, filename="eicar.txt")
    landing.put(infected, EICAR)
    down = FakeClamd("close_mid").start()
    try:
        monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(down.port))
        factory.reset()
        assert factory.maintenance().run()["redriven"] == {"failed": 2}
        assert landing.record(clean["file_id"])["status"] == "pending"
        assert landing.names(landing.files) == []
    finally:
        down.stop()
    monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(landing.clamd_port))
    factory.reset()

    assert factory.maintenance().run()["redriven"] == {"ready": 1, "infected": 1}
    assert landing.download(clean["file_id"]) == (200, b"its event was lost")
    assert landing.record(infected["file_id"])["status"] == "infected"
    assert landing.names(landing.incoming) == []
    assert factory.maintenance().run()["redriven"] == {}  # nothing left to do
