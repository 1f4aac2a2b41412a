"""``ScanRole``: scan records and rescans, one of the metadata store's roles.

Each version keeps the record of its latest scan (``Verdict.record``: verdict, signature,
engine, signature database version, when, how many bytes); the file record carries its live
version's, with its database version (``scan_db``, 0 when unknown) and time as query fields.
After a signature update the rescan job asks for the live, ready files whose ``scan_db`` is
below the scanner's, oldest database first, then oldest scan, then workspace and file id
(``RescanCursor``: where a job left off), and records each new verdict with
``record_rescan``: the scan record, the status (``infected`` when the new signatures match),
its log entry and its event, in one transaction.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from shared.models import FileRecord, LogEntry


@dataclass(frozen=True)
class RescanCursor:
    """A position in the rescan order: after this file's (db, scanned_at, ws, id)."""

    scan_db: int
    scanned_at: str
    workspace_id: str
    file_id: str

    @classmethod
    def of(cls, record: FileRecord) -> RescanCursor:
        """The position of ``record`` in the rescan order."""
        return cls(scan_db(record.scan), scan_time(record.scan), record.workspace_id,
                   record.id)

    def to_json(self) -> list[Any]:
        """For a job's saved state."""
        return [self.scan_db, self.scanned_at, self.workspace_id, self.file_id]

    @classmethod
    def from_json(cls, value: Any) -> RescanCursor | None:
        """A saved position, or None."""
        if not isinstance(value, list) or len(value) != 4:
            return None
        return cls(int(value[0]), str(value[1]), str(value[2]), str(value[3]))


def scan_db(scan: dict[str, Any] | None) -> int:
    """A scan record's database version as a query field (0: unknown or unversioned)."""
    value = (scan or {}).get("db_version")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def scan_time(scan: dict[str, Any] | None) -> str:
    """A scan record's time as a query field ('' when there is none)."""
    return str((scan or {}).get("scanned_at") or "")


class ScanRole(abc.ABC):
    """Finding files to rescan and recording rescans."""

    @abc.abstractmethod
    def rescan_candidates(self, below_db: int, after: RescanCursor | None,
                          limit: int) -> list[FileRecord]:
        """Live, ready files whose live version's ``scan_db`` is below ``below_db``, in
        rescan order, after ``after``; from every workspace."""

    @abc.abstractmethod
    def count_rescan_candidates(self, below_db: int) -> int:
        """How many files ``rescan_candidates`` would still find (from the start)."""

    @abc.abstractmethod
    def record_rescan(self, workspace_id: str, seen: FileRecord, scan: dict[str, Any],
                      entry: LogEntry) -> FileRecord | None:
        """Store ``scan`` as the live version's scan record, in one transaction with
        ``entry`` and an event: ``infected`` (the record's status becomes ``infected``) when
        the scan found malware, ``rescanned`` otherwise. Applies only while the file is
        still live at the version and blob ``seen`` had (None otherwise: nothing changes)."""
