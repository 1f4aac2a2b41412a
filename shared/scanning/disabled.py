"""``DisabledScanner``: every verdict is clean. Only ``CLAMAV_SERVICE_ENABLED=false`` picks it.

It logs a warning on every scan, so a deployment running without scanning is loud about it.
"""

from __future__ import annotations

import logging

from shared.scanning.base import ObjectOpener, Scanner, ScanSession, Verdict

log = logging.getLogger(__name__)


class _PassSession(ScanSession):
    def __init__(self) -> None:
        self._bytes = 0

    def feed(self, chunk: bytes) -> None:
        self._bytes += len(chunk)

    def finish(self) -> Verdict:
        log.warning("virus scanning is DISABLED (CLAMAV_SERVICE_ENABLED=false): %d bytes unscanned",
                    self._bytes)
        return Verdict(infected=False, bytes_scanned=self._bytes, engine="disabled")

    def abort(self) -> None:
        return None


class DisabledScanner(Scanner):
    """No scanning at all; for machines without clamd, never the default."""

    name = "disabled"
    enabled = False

    def __init__(self, objects: ObjectOpener | None = None) -> None:
        self.objects = objects  # stored objects are still read: their SHA-256 is needed

    def open_session(self) -> ScanSession:
        return _PassSession()

    def ping(self) -> bool:
        return True
