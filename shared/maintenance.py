"""``Maintenance``: one run of the scheduled sweep (``make sweep``, the ``sweep`` function).

In order: the direct uploads' re-drive and ticket expiry (``UploadSweep``), the files' purge
and sweep (``FileMaintenance``, which keeps reservations a live ticket answers for), the old
event locks, then folder moves left idle (resumed) or finished long ago (forgotten). Every
step is idempotent, so an extra run does no harm.
"""

from __future__ import annotations

from typing import Any

from shared.files.folders import FolderService
from shared.files.maintenance import FileMaintenance
from shared.uploads.service import DirectUploads


class Maintenance:
    """The sweep over one deployment's backends."""

    def __init__(self, files: FileMaintenance, uploads: DirectUploads,
                 folders: FolderService | None = None) -> None:
        self.files = files
        self.uploads = uploads
        self.folders = folders

    def run(self) -> dict[str, Any]:
        """Sweep once; returns what was done, as JSON-ready counts."""
        report = self.uploads.sweep()
        report.update(self.files.sweep(keep=self.uploads.keeps))
        report.update(self.uploads.purge_locks())
        if self.folders is not None:
            report.update(self.folders.redrive())
        return report
