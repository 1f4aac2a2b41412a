"""The finalize handler's records, exactly: each outcome's scan log entry (details, agent,
task, id), the record's scan metadata, the lock's stored outcome and the log lines an
operator greps for; redeliveries after a crash write nothing twice.

Built on the same in-process harness as ``test_finalize_edges.py`` (``landing`` fixture).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import factory
from shared.models import ObjectRef
from shared.timeutil import plus_seconds, utcnow
from shared.uploads.events import ObjectEvent
from shared.uploads.finalize import REASON
from shared.uploads.tickets import parse_incoming
from tests.conftest import EICAR
from tests.direct_fixtures import Landing
from tests.fake_scanners import FakeClamd
from tests.test_finalize_edges import lock_of, scan_logs, uploaded

AGENT = {"X-Agent-Id": "uploader-7", "X-Task-Id": "task-42"}


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every log line, exactly as formatted."""
    return [record.getMessage() for record in caplog.records]


def the_scan_entry(landing: Landing, file_id: str) -> dict[str, Any]:
    [entry] = scan_logs(landing, file_id)
    assert entry["resource_type"] == "file" and entry["resource_id"] == file_id
    assert (entry["agent_id"], entry["task_id"]) == ("uploader-7", "task-42")
    assert entry["id"].startswith("log_") and len(entry["id"]) == 24
    return entry


def crashed_before_done(finalizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next ``process`` dies after its work, before recording it as done; its lease is
    then over (as after a real crash), so the redelivery takes the lock over."""
    real_done = finalizer.locks.done

    def crash(lock: Any, outcome: dict[str, Any]) -> None:
        monkeypatch.setattr(finalizer.locks, "done", real_done)
        meta = factory.metadata_store()
        expired = {**lock.data, "lease_until": plus_seconds(utcnow(), -1)}
        assert meta.replace_doc(lock, expired, plus_seconds(utcnow(), 3600)) is not None
        raise ConnectionError("the worker died before recording the outcome")

    monkeypatch.setattr(finalizer.locks, "done", crash)


def test_malware_records_name_everything(landing: Landing,
                                         caplog: pytest.LogCaptureFixture) -> None:
    ticket, ref = uploaded(landing, EICAR, filename="eicar.txt", path="/inbox/",
                           headers=AGENT)
    assert landing.process(ref.name, ref.generation) == "infected"
    entry = the_scan_entry(landing, ticket["file_id"])
    signature = entry["details"]["signature"]
    assert signature.startswith("Workspace.Test.EICAR")
    where = f"gcs://{landing.quarantine}/{ref.name}.{ref.generation}"
    assert entry["details"] == {"verdict": "infected", "signature": signature,
                                "filename": "eicar.txt", "path": "/inbox/eicar.txt",
                                "size_bytes": len(EICAR), "slot": 1, "quarantine": where}
    scan = landing.record(ticket["file_id"])["metadata"]["scan"]
    engine, db_version = scan.pop("engine"), scan.pop("db_version")
    assert engine.startswith("ClamAV ") and isinstance(db_version, int)
    assert scan == {"verdict": "infected", "signature": signature,
                    "scanned_at": entry["timestamp"], "bytes": len(EICAR)}
    assert lock_of(ref) == {"state": "done", "outcome": "infected",
                            "file_id": ticket["file_id"], "signature": signature}
    workspace = parse_incoming(ref.name)[0]  # type: ignore[index]
    assert f"direct upload rejected: malware {signature} in workspace {workspace}" in \
        logged(caplog)


def test_an_infected_overwrite_keeps_the_live_version_and_logs_once(
        landing: Landing, monkeypatch: pytest.MonkeyPatch) -> None:
    live = landing.api.upload(b"clean v1", "doc.txt").get_json()
    _, ref = uploaded(landing, EICAR, filename="doc.txt", overwrite=True, headers=AGENT)
    crashed_before_done(landing.finalizer, monkeypatch)
    with pytest.raises(ConnectionError):
        landing.process(ref.name, ref.generation)
    # The redelivery finds the quarantined copy (its ticket is gone, so it cannot say more
    # than "not promoted"); what matters: one entry, the live version untouched.
    assert landing.process(ref.name, ref.generation) in ("infected", "unexpected")
    entry = the_scan_entry(landing, live["id"])  # one entry, not two
    assert entry["details"]["verdict"] == "infected"
    assert entry["details"]["slot"] == 2 and entry["details"]["size_bytes"] == len(EICAR)
    record = landing.record(live["id"])
    assert (record["status"], record["version"]) == ("ready", 1)
    assert landing.download(live["id"]) == (200, b"clean v1")


def test_unexpected_records_name_everything(landing: Landing, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    ticket = landing.issue(b"12345", headers=AGENT)
    name = landing.name(ticket)
    generation = landing.put(ticket, b"1234567")
    ref = ObjectRef(landing.incoming, name, generation)
    crashed_before_done(landing.finalizer, monkeypatch)
    with pytest.raises(ConnectionError):
        landing.process(name, generation)
    assert landing.process(name, generation) == "unexpected"
    entry = the_scan_entry(landing, ticket["file_id"])  # still one entry
    assert entry["details"] == {
        "verdict": "unexpected", "reason": "size differs from reservation", "size_bytes": 7,
        "quarantine": f"gcs://{landing.quarantine}/{name}.{generation}", "declared_size": 5}
    assert lock_of(ref) == {"state": "done", "outcome": "unexpected",
                            "reason": "size differs from reservation"}
    assert f"quarantined unexpected object {ref.id}: size differs from reservation" in \
        logged(caplog)


def test_a_loose_object_outside_any_upload_is_quarantined(landing: Landing) -> None:
    generation = landing.overwrite("loose.txt", b"no ticket could name this")
    assert landing.process("loose.txt", generation) == "unexpected"
    assert landing.names(landing.quarantine) == [f"loose.txt.{generation}"]


@pytest.mark.parametrize("reason", ["infected", "unexpected"])
def test_a_resumed_record_falls_back_to_generic_details(landing: Landing, reason: str) -> None:
    ticket, ref = uploaded(landing, EICAR, filename="eicar.txt", headers=AGENT)
    zone = factory.blob_store().landing
    obj = zone.info(ref.name, ref.generation)
    zone.quarantine(obj, {REASON: reason})  # no signature, no detail recorded
    zone.delete(obj.ref)
    assert landing.process(ref.name, ref.generation) == reason
    details = the_scan_entry(landing, ticket["file_id"])["details"]
    where = f"gcs://{landing.quarantine}/{ref.name}.{ref.generation}"
    assert details["quarantine"] == where and details["size_bytes"] == len(EICAR)
    if reason == "infected":
        assert details["signature"] == "unknown"
    else:
        assert details["reason"] == "unexpected"


def test_event_edges_are_logged(landing: Landing, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared.uploads.finalize")
    ticket, ref = uploaded(landing, b"12345", headers=AGENT)
    finalizer = landing.finalizer
    finalizer.handle(None)
    assert "ignored an event that is not an object finalize" in logged(caplog)
    finalizer.handle(ObjectEvent(ObjectRef(landing.files, ref.name, ref.generation), 5, None))
    assert f"ignored a finalize in bucket {landing.files}" in logged(caplog)
    max_age = finalizer.settings.scan_event_max_age_seconds
    now = datetime.now(UTC)
    assert finalizer.handle(ObjectEvent(ref, 5, now - timedelta(seconds=max_age + 1)),
                            now=now) == "stale"
    assert f"dropped a stale finalize event for {ref.id} (older than {max_age} s)" in \
        logged(caplog)
    [stale] = landing.api.get(f"/logs?resource_id={ticket['file_id']}").get_json()
    assert (stale["resource_type"], stale["agent_id"], stale["task_id"]) == (
        "file", "uploader-7", "task-42")
    # Exactly the maximum age is still in time.
    assert finalizer.handle(ObjectEvent(ref, 5, now - timedelta(seconds=max_age)),
                            now=now) == "ready"


def test_clean_uploads_record_exactly(landing: Landing,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared.uploads.finalize")
    content = b"%PDF-1.4\n" + b"0" * 300
    ticket, ref = uploaded(landing, content, filename="r.pdf", description="the report",
                           headers=AGENT)
    assert landing.process(ref.name, ref.generation) == "ready"
    checksum = hashlib.sha256(content).hexdigest()
    [created] = landing.api.get(
        f"/logs?resource_id={ticket['file_id']}&operation_type=create").get_json()
    assert created["resource_type"] == "file"
    assert (created["agent_id"], created["task_id"]) == ("uploader-7", "task-42")
    assert created["details"] == {
        "filename": "r.pdf", "description": "the report", "file_type": "document",
        "size_bytes": len(content), "path": "/r.pdf", "version": 1, "checksum": checksum,
        "via": "upload_url"}
    assert lock_of(ref) == {"state": "done", "outcome": "ready",
                            "file_id": ticket["file_id"], "checksum": checksum}
    assert f"scan_uploaded_file {ref.id}: ready" in logged(caplog)
    assert landing.process(ref.name, ref.generation) == "duplicate"
    assert f"duplicate event for {ref.id}: already done" in logged(caplog)

    # A clean overwrite: the next version, logged as an update; the old bytes are kept.
    again, ref2 = uploaded(landing, b"second", filename="r.pdf", overwrite=True,
                           headers=AGENT)
    assert again["file_id"] == ticket["file_id"]
    assert landing.process(ref2.name, ref2.generation) == "ready"
    [updated] = landing.api.get(
        f"/logs?resource_id={ticket['file_id']}&operation_type=update").get_json()
    assert updated["details"]["version"] == 2 and updated["details"]["via"] == "upload_url"
    assert (updated["agent_id"], updated["task_id"]) == ("uploader-7", "task-42")
    assert landing.download(ticket["file_id"]) == (200, b"second")
    factory.maintenance().files.purge()  # v1's retention is days away: nothing is due
    stored = landing.names(landing.files)
    assert len(stored) == 2 and stored[0].endswith("/v1/r.pdf") and \
        stored[1].endswith("/v2/r.pdf")  # v1 stays until its retention ends


def test_malware_without_a_name_is_still_malware(landing: Landing,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A scanner that says FOUND without a signature name: infected, signature "unknown"."""
    unnamed = FakeClamd("found_unnamed").start()
    try:
        monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(unnamed.port))
        factory.reset()
        ticket, ref = uploaded(landing, b"something bad", headers=AGENT)
        assert landing.process(ref.name, ref.generation) == "infected"
        assert landing.record(ticket["file_id"])["metadata"]["scan"]["signature"] == "unknown"
    finally:
        unnamed.stop()
