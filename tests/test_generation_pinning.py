"""Generation pinning in the finalize handler, with the incoming object overwritten at the worst
moments: between the event and the scan, and between the scan and the copy.

The bucket is versioned, so both generations stay readable and a handler that read "the
object" instead of "the event's generation" would find the other bytes. The scanned
generation, and only it, is promoted; the other one is quarantined as unexpected when its
own event comes. fake-gcs-server honours the source generation of a copy but ignores
``ifSourceGenerationMatch`` and ``ifGenerationMatch``, so the copy request itself (recorded
by the proxy in front of the emulator) must carry every pin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from shared.models import ObjectRef
from shared.scanning.base import ObjectScan, Scanner, ScanSession
from tests.conftest import EICAR
from tests.direct_fixtures import Landing

CLEAN = b"C" * len(EICAR)  # the same size as the intruder: only the generation tells them apart


class OverwriteAfterScan(Scanner):
    """The real scanner, and right after its verdict another writer replaces the object."""

    def __init__(self, real: Scanner, overwrite: Callable[[], Any]) -> None:
        self.real, self.overwrite = real, overwrite
        self.scanned: list[int] = []

    def open_session(self) -> ScanSession:
        return self.real.open_session()

    def ping(self) -> bool:
        return self.real.ping()

    def scan_object(self, ref: ObjectRef, filename: str, max_bytes: int) -> ObjectScan:
        result = self.real.scan_object(ref, filename, max_bytes)
        self.scanned.append(ref.generation)
        self.overwrite()
        return result


def assert_promoted_exactly(landing: Landing, file_id: str, generation: int) -> None:
    """The files bucket holds CLEAN, copied by one request pinned to ``generation``."""
    record = landing.record(file_id)
    assert record["status"] == "ready"
    assert record["checksum"] == hashlib.sha256(CLEAN).hexdigest()
    assert landing.download(file_id) == (200, CLEAN)
    stored = landing.names(landing.files)
    assert len(stored) == 1 and landing.bytes_of(landing.files, stored[0]) == CLEAN
    copies = landing.copies_into(landing.files)
    assert len(copies) == 1
    pins = copies[0].query
    assert pins.get("sourceGeneration") == str(generation), pins
    assert pins.get("ifSourceGenerationMatch") == str(generation), pins
    assert pins.get("ifGenerationMatch") == "0", pins


def assert_intruder_quarantined(landing: Landing, name: str, generation: int) -> None:
    assert landing.process(name, generation) == "unexpected"
    quarantined = f"{name}.{generation}"
    assert quarantined in landing.names(landing.quarantine)
    assert landing.bytes_of(landing.quarantine, quarantined) == EICAR
    assert len(landing.names(landing.files)) == 1  # nothing else was promoted


def test_overwrite_between_event_and_scan(landing: Landing) -> None:
    landing.keep_generations()
    ticket = landing.issue(CLEAN)
    name = landing.name(ticket)
    first = landing.put(ticket, CLEAN)
    second = landing.overwrite(name, EICAR)  # lands before the first event is handled
    assert second != first

    assert landing.process(name, first) == "ready"
    assert_promoted_exactly(landing, ticket["file_id"], first)
    assert landing.record(ticket["file_id"])["version"] == 1
    assert_intruder_quarantined(landing, name, second)
    assert landing.download(ticket["file_id"]) == (200, CLEAN)


def test_overwrite_between_scan_and_copy(landing: Landing) -> None:
    landing.keep_generations()
    ticket = landing.issue(CLEAN)
    name = landing.name(ticket)
    first = landing.put(ticket, CLEAN)
    intruder: list[int] = []
    finalizer = landing.finalizer
    racing = OverwriteAfterScan(finalizer.scanner,
                                lambda: intruder.append(landing.overwrite(name, EICAR)))
    finalizer.scanner = racing

    assert landing.process(name, first) == "ready"
    assert racing.scanned == [first] and len(intruder) == 1
    assert_promoted_exactly(landing, ticket["file_id"], first)
    finalizer.scanner = racing.real
    assert_intruder_quarantined(landing, name, intruder[0])
    assert landing.download(ticket["file_id"]) == (200, CLEAN)
