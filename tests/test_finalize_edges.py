"""The finalize handler's every outcome, on the in-process harness (``landing`` fixture):
ignored and stale events, objects nobody asked for, sizes other than declared, malware, the
resumption of a crashed attempt, a file deleted while it uploaded, and exactly-once.

Each test names the state the handler must leave behind (records, buckets, log entries),
so that a handler that "mostly works" fails here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import factory
from shared.models import ObjectRef
from shared.uploads.events import ObjectEvent
from shared.uploads.finalize import DETAIL, REASON, SIGNATURE
from shared.uploads.locks import LOCKS
from shared.uploads.tickets import TICKETS, parse_incoming, ticket_key
from tests.conftest import EICAR
from tests.direct_fixtures import Landing


def uploaded(landing: Landing, content: bytes, **extra: Any) -> tuple[dict[str, Any], ObjectRef]:
    """A ticket and the generation its PUT created (no event handled yet)."""
    ticket = landing.issue(content, **extra)
    generation = landing.put(ticket, content)
    return ticket, ObjectRef(landing.incoming, landing.name(ticket), generation)


def scan_logs(landing: Landing, file_id: str, user: str = "alice") -> list[dict[str, Any]]:
    return landing.api.get(f"/logs?resource_id={file_id}&operation_type=scan",
                           user=user).get_json()


def ticket_exists(ticket: dict[str, Any]) -> bool:
    workspace_id, file_id = parse_incoming(Landing.name(ticket)) or ("", "")
    return factory.metadata_store().get_doc(TICKETS, ticket_key(workspace_id, file_id)) \
        is not None


def lock_of(ref: ObjectRef) -> dict[str, Any]:
    doc = factory.metadata_store().get_doc(LOCKS, ref.id)
    assert doc is not None
    return {k: v for k, v in doc.data.items() if k != "finished_at"}


def test_a_clean_upload_is_promoted_once_with_its_facts(landing: Landing) -> None:
    content = b"# Notes\n" + b"numbers " * 500
    ticket, ref = uploaded(landing, content, filename="notes.md", description="d",
                           tags=["t1"])
    headers = {"X-Agent-Id": "agent-7", "X-Task-Id": "task-9"}
    assert landing.process(ref.name, ref.generation) == "ready"
    record = landing.record(ticket["file_id"])
    assert record["status"] == "ready" and record["version"] == 1
    assert record["checksum"] == hashlib.sha256(content).hexdigest()
    assert record["size_bytes"] == len(content) and record["tags"] == ["t1"]
    assert record["file_path"] == (f"gcs://{landing.files}/workspaces/"
                                   f"{parse_incoming(ref.name)[0]}/{ticket['file_id']}"  # type: ignore[index]
                                   "/v1/notes.md")
    assert landing.names(landing.incoming) == [] and not ticket_exists(ticket)
    created = landing.api.get(f"/logs?resource_id={ticket['file_id']}&operation_type=create",
                              headers=headers).get_json()
    assert len(created) == 1
    details = created[0]["details"]
    assert (details["via"], details["version"], details["checksum"], details["size_bytes"]) == (
        "upload_url", 1, record["checksum"], len(content))
    assert details["path"] == record["path"] and details["filename"] == "notes.md"
    assert landing.process(ref.name, ref.generation) == "duplicate"
    assert len(landing.names(landing.files)) == 1


def test_other_buckets_and_other_events_are_ignored(landing: Landing) -> None:
    ticket, ref = uploaded(landing, b"12345")
    finalizer = landing.finalizer
    assert finalizer.handle(None) == "ignored"
    elsewhere = ObjectRef(landing.files, ref.name, ref.generation)
    assert finalizer.handle(ObjectEvent(elsewhere, 5, None)) == "ignored"
    assert landing.record(ticket["file_id"])["status"] == "pending"
    assert finalizer.handle(ObjectEvent(ref, 5, datetime.now(UTC))) == "ready"


def test_a_stale_event_is_dropped_and_logged(landing: Landing) -> None:
    ticket, ref = uploaded(landing, b"12345")
    finalizer = landing.finalizer
    max_age = timedelta(seconds=finalizer.settings.scan_event_max_age_seconds)
    now = datetime.now(UTC)
    assert finalizer.handle(ObjectEvent(ref, 5, now - max_age - timedelta(minutes=1)),
                            now=now) == "stale"
    assert landing.record(ticket["file_id"])["status"] == "pending"
    stale = landing.api.get(f"/logs?resource_id={ticket['file_id']}").get_json()
    assert [(e["operation_type"], e["details"]["verdict"], e["details"]["reason"],
             e["details"]["generation"]) for e in stale] == [
        ("scan", "dropped", "stale event", ref.generation)]
    assert landing.names(landing.files) == []
    # Just inside the limit it is handled.
    assert finalizer.handle(ObjectEvent(ref, 5, now - max_age + timedelta(minutes=1)),
                            now=now) == "ready"


def test_an_object_nobody_asked_for_is_quarantined(landing: Landing) -> None:
    stray = "incoming/ws_nobody/file_000009/x.txt"
    generation = landing.overwrite(stray, b"stray bytes")
    assert landing.process(stray, generation) == "unexpected"
    assert landing.names(landing.incoming) == []
    copy = landing.client.bucket(landing.quarantine).get_blob(f"{stray}.{generation}")
    assert copy.metadata[REASON] == "unexpected" and copy.metadata[DETAIL] == "no reservation"
    assert landing.process(stray, generation) == "duplicate"

    # Under a real file of a real workspace, its owner is told.
    live = landing.api.upload(b"a real file", "real.txt").get_json()
    workspace = parse_incoming(landing.name(landing.issue(b"x", filename="y.txt")))[0]  # type: ignore[index]
    named = f"incoming/{workspace}/{live['id']}/real.txt"
    gen = landing.overwrite(named, b"not from a ticket")
    assert landing.process(named, gen) == "unexpected"
    entries = scan_logs(landing, live["id"])
    assert [(e["details"]["verdict"], e["details"]["reason"]) for e in entries] == [
        ("unexpected", "no reservation")]
    assert landing.download(live["id"]) == (200, b"a real file")


def test_a_size_other_than_declared_is_quarantined(landing: Landing) -> None:
    ticket = landing.issue(b"12345")
    generation = landing.put(ticket, b"a much longer body than declared")
    name = landing.name(ticket)
    assert landing.process(name, generation) == "unexpected"
    assert landing.names(landing.quarantine) == [f"{name}.{generation}"]
    assert landing.names(landing.files) == [] and landing.names(landing.incoming) == []
    assert landing.api.get(f"/files/{ticket['file_id']}").status_code == 404
    assert not ticket_exists(ticket)
    [entry] = scan_logs(landing, ticket["file_id"])
    assert entry["details"]["verdict"] == "unexpected"
    assert (entry["details"]["declared_size"], entry["details"]["size_bytes"]) == (5, 32)


def test_malware_is_quarantined_and_the_record_infected(landing: Landing) -> None:
    ticket, ref = uploaded(landing, EICAR, filename="eicar.txt")
    assert landing.process(ref.name, ref.generation) == "infected"
    record = landing.record(ticket["file_id"])
    assert record["status"] == "infected"
    assert record["metadata"]["scan"]["signature"].startswith("Workspace.Test.EICAR")
    assert landing.download(ticket["file_id"])[0] == 409
    copy = landing.client.bucket(landing.quarantine).get_blob(f"{ref.name}.{ref.generation}")
    assert copy.metadata[REASON] == "infected"
    assert copy.metadata[SIGNATURE].startswith("Workspace.Test.EICAR")
    assert landing.names(landing.incoming) == [] and landing.names(landing.files) == []
    assert not ticket_exists(ticket)
    [entry] = scan_logs(landing, ticket["file_id"])
    assert entry["details"]["quarantine"] == (
        f"gcs://{landing.quarantine}/{ref.name}.{ref.generation}")
    assert landing.process(ref.name, ref.generation) == "duplicate"


@pytest.mark.parametrize("reason", ["infected", "unexpected"])
def test_a_crash_after_the_quarantine_copy_is_resumed(landing: Landing, reason: str) -> None:
    """Quarantined and deleted, then the worker died: the redelivery finishes the record."""
    ticket, ref = uploaded(landing, EICAR, filename="eicar.txt")
    zone = factory.blob_store().landing
    obj = zone.info(ref.name, ref.generation)
    zone.quarantine(obj, {REASON: reason, SIGNATURE: "Crash.Test", DETAIL: "half done"})
    zone.delete(obj.ref)

    assert landing.process(ref.name, ref.generation) == reason
    entries = scan_logs(landing, ticket["file_id"])
    assert len(entries) == 1 and entries[0]["details"]["verdict"] == reason
    if reason == "infected":
        record = landing.record(ticket["file_id"])
        assert record["status"] == "infected"
        assert record["metadata"]["scan"]["signature"] == "Crash.Test"
    else:
        assert entries[0]["details"]["reason"] == "half done"
        assert landing.api.get(f"/files/{ticket['file_id']}").status_code == 404
    assert not ticket_exists(ticket)
    never = ObjectRef(landing.incoming, "incoming/ws_x/file_000001/never.txt", 12345)
    assert landing.finalizer.process(never) == "gone"


def test_a_crash_after_the_record_is_resumed(landing: Landing,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Promoted and finalized, then the worker died before cleaning up: the redelivery only
    cleans up, and the file is promoted and logged once."""
    ticket, ref = uploaded(landing, b"finalized, not cleaned")
    finalizer = landing.finalizer

    def crash(*_args: object) -> None:
        raise ConnectionError("the worker died")

    monkeypatch.setattr(finalizer, "_cleanup", crash)
    with pytest.raises(ConnectionError):
        landing.process(ref.name, ref.generation)
    assert landing.record(ticket["file_id"])["status"] == "ready"
    assert ticket_exists(ticket) and landing.names(landing.incoming) == [ref.name]
    monkeypatch.undo()

    assert landing.process(ref.name, ref.generation) == "ready"
    assert lock_of(ref) == {"state": "done", "outcome": "ready", "file_id": ticket["file_id"]}
    assert landing.names(landing.incoming) == [] and not ticket_exists(ticket)
    assert len(landing.names(landing.files)) == 1
    ops = [e["operation_type"] for e in landing.api.get(
        f"/logs?resource_id={ticket['file_id']}").get_json()]
    assert ops.count("create") == 1


def test_a_file_deleted_while_uploading_is_never_live(landing: Landing) -> None:
    ticket, ref = uploaded(landing, b"deleted meanwhile")
    assert landing.api.delete(f"/files/{ticket['file_id']}").status_code == 200
    assert landing.process(ref.name, ref.generation) == "deleted"
    assert landing.api.get(f"/files/{ticket['file_id']}").status_code == 404
    assert landing.api.get("/files").get_json() == []
    assert landing.names(landing.incoming) == [] and not ticket_exists(ticket)
