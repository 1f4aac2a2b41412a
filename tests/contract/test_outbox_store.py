"""The ``OutboxRole`` and ``ScanRole`` contract, on SQLite and on the Firestore emulator.

Each state change writes exactly one event with it (none when the change is refused), the
feed pages oldest first from a cursor, the publisher's view drains, and rescans find files
scanned with older signatures in order, resumably, and record the new verdict.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shared.errors import Conflict
from shared.events import event_id
from shared.metadata.base import MetadataStore
from shared.metadata.scans import RescanCursor
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import FileEdit, Finalization
from shared.timeutil import utcnow
from tests.contract.test_metadata_store import build
from tests.metadata_helpers import RETENTION, append_text, draft, entry, facts, put


def scan(db: int, verdict: str = "clean") -> dict[str, object]:
    return {"verdict": verdict, "engine": "ClamAV 1.4.6", "db_version": db,
            "scanned_at": utcnow(), "bytes": 5}


def put_scanned(store: MetadataStore, ws: str, path: str, db: int):
    d = draft(path)
    r = store.reserve_file(ws, d, False)
    done = Finalization(d, r, f"blobs/{r.file_id}/v1", "local://x", facts(), scan=scan(db))
    return store.finalize_file(ws, done, entry("create", r.file_id), RETENTION)[0]


def feed(store: MetadataStore, ws: str, limit: int = 2) -> list[tuple[str, str, int]]:
    """Every event of the workspace, read a page of ``limit`` at a time."""
    out, cursor = [], None
    while True:
        page = store.list_events(ws, cursor, limit)
        if not page.items:
            assert page.next_cursor == cursor  # at the end the cursor stays put
            return out
        out += [(e.type.rsplit(".", 1)[1], e.subject, e.data.get("version")) for e in page.items]
        cursor = page.next_cursor


class OutboxContract:
    """What every backend's outbox and scan records promise."""

    def test_each_state_change_writes_one_event_in_order(self, store):
        ws = store.get_or_create_workspace("alice").id
        first = put(store, ws, "/a.txt")
        put(store, ws, "/a.txt", overwrite=True)
        with pytest.raises(Conflict):  # refused: no change, so no event
            put(store, ws, "/a.txt")
        store.delete_file(ws, first.id, entry("delete", first.id), RETENTION)
        store.restore_file(ws, first.id, None, entry("update", first.id))
        store.mutate_memory(ws, append_text("hi"), "agent", 5)
        store.edit_file(ws, first.id, FileEdit(description="x"),
                        entry("update", first.id))  # a metadata edit is no state change
        assert feed(store, ws) == [("ready", first.id, 1), ("ready", first.id, 2),
                                   ("deleted", first.id, 2), ("restored", first.id, 2),
                                   ("updated", "memory", 1)]
        events = store.list_events(ws, None, 10).items
        assert events[0].id == event_id(ws, first.id, 1)  # stable: the change's own id
        assert events[0].data == {"workspace_id": ws, "file_id": first.id, "version": 1,
                                  "checksum": "ab" * 32, "verdict": None}
        assert store.list_events(store.get_or_create_workspace("bob").id, None, 10).items == []

    def test_infected_reservation_event_names_version_one(self, store):
        ws = store.get_or_create_workspace("alice").id
        r = store.reserve_file(ws, draft("/bad.txt"), False)
        record = store.mark_infected(ws, r.file_id, scan(3, "infected"), entry("scan", r.file_id),
                                     "cd" * 32)
        assert record.status == "infected" and record.scan["verdict"] == "infected"
        [event] = store.list_events(ws, None, 10).items
        assert event.type == "workspace.file.infected"
        assert event.data == {"workspace_id": ws, "file_id": r.file_id, "version": 1,
                              "checksum": "cd" * 32, "verdict": "infected"}

    def test_the_publisher_drains_pending_events(self, store):
        ws = store.get_or_create_workspace("alice").id
        for name in ("a", "b", "c"):
            put(store, ws, f"/{name}.txt")
        pending = store.pending_events(2)
        assert [e.data["file_id"] for e in pending] == ["file_000001", "file_000002"]
        store.mark_published(pending)
        store.mark_published(pending)  # again: harmless
        assert [e.data["file_id"] for e in store.pending_events(10)] == ["file_000003"]
        assert len(store.list_events(ws, None, 10).items) == 3  # the feed keeps them

    def test_rescan_candidates_in_order_resumable_and_recorded(self, store):
        ws = store.get_or_create_workspace("alice").id
        old = put_scanned(store, ws, "/old.txt", 1)
        older = put_scanned(store, ws, "/older.txt", 0)
        put_scanned(store, ws, "/current.txt", 2)
        assert [r.id for r in store.rescan_candidates(2, None, 10)] == [older.id, old.id]
        assert store.count_rescan_candidates(2) == 2
        after = RescanCursor.of(store.rescan_candidates(2, None, 1)[0])
        assert [r.id for r in store.rescan_candidates(2, after, 10)] == [old.id]
        done = store.record_rescan(ws, old, scan(2), entry("scan", old.id))
        assert done.status == "ready" and done.scan["db_version"] == 2
        assert store.get_file_version(ws, old.id, 1).scan["db_version"] == 2
        bad = store.record_rescan(ws, older, scan(2, "infected"), entry("scan", older.id))
        assert bad.status == "infected"
        assert store.count_rescan_candidates(2) == 0
        assert store.record_rescan(ws, older, scan(2), entry("scan", older.id)) is None
        assert feed(store, ws)[-2:] == [("rescanned", old.id, 1), ("infected", older.id, 1)]


class TestSqliteOutbox(OutboxContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteMetadataStore:
        return SqliteMetadataStore(tmp_path / "sqlite")


class TestFirestoreOutbox(OutboxContract):
    @pytest.fixture
    def store(self, firestore_emulator, monkeypatch) -> MetadataStore:
        host = firestore_emulator.host_port
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        return build(("firestore", host, f"outbox-{uuid.uuid4().hex[:12]}"))
