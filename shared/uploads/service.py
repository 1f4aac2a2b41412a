"""``DirectUploads``: signed-URL uploads, available only when the blob store has a landing zone.

The one place that reads the capability (``BlobStore.landing``): without it, ``issue``
checks the request and then answers 501 (upload with ``POST /files``), the finalize handler
refuses to run (a deployment error), and the sweep has nothing to do.
"""

from __future__ import annotations

from typing import Any

from shared.config import Settings
from shared.context import RequestContext
from shared.errors import ConfigError, NotSupported
from shared.metadata.base import MetadataStore
from shared.models import Reservation
from shared.scanning.base import Scanner
from shared.storage.base import BlobStore
from shared.uploads.events import ObjectEvent
from shared.uploads.finalize import Finalizer
from shared.uploads.issue import UrlIssuer, check_request
from shared.uploads.sweep import UploadSweep


class DirectUploads:
    """Issue URLs, finalize landed objects, sweep: over one deployment's backends."""

    def __init__(self, settings: Settings, blobs: BlobStore, meta: MetadataStore,
                 scanner: Scanner) -> None:
        self.settings = settings
        self.meta = meta
        self.landing = blobs.landing
        self.issuer = self.finalizer = self.sweeper = None
        if self.landing is not None:
            self.issuer = UrlIssuer(settings, meta, self.landing)
            self.finalizer = Finalizer(settings, blobs, self.landing, meta, scanner)
            self.sweeper = UploadSweep(self.finalizer, self.landing, meta,
                                       settings.reconcile_after_seconds)

    @property
    def available(self) -> bool:
        """True when clients can PUT straight to storage."""
        return self.landing is not None

    def issue(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /files/upload-url``: the request is checked before the capability answers."""
        request = check_request(ctx, body, self.settings.max_file_size_bytes)
        if self.issuer is None:
            raise NotSupported("direct uploads need the GCS backend (MEDIA_GCS_BUCKET_NAME, "
                               "INCOMING_GCS_BUCKET_NAME and QUARANTINE_GCS_BUCKET_NAME); "
                               "upload with POST /files instead")
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        return self.issuer.issue(ctx, ws, request)

    def handle(self, event: ObjectEvent | None) -> str:
        """One finalize event (``scan_uploaded_file``)."""
        if self.finalizer is None:
            raise ConfigError("scan_uploaded_file needs MEDIA_GCS_BUCKET_NAME, "
                              "INCOMING_GCS_BUCKET_NAME and QUARANTINE_GCS_BUCKET_NAME")
        return self.finalizer.handle(event)

    def sweep(self) -> dict[str, Any]:
        """Re-drive lost events and expire unused tickets (nothing without a landing zone)."""
        return self.sweeper.run() if self.sweeper is not None else {}

    def purge_locks(self) -> dict[str, int]:
        """Delete old event locks (after the files' sweep, as the last step)."""
        return {"claims_purged": self.sweeper.purge_locks()} if self.sweeper else {}

    def keeps(self, workspace_id: str, reservation: Reservation) -> bool:
        """True when a live ticket still answers for a pending reservation."""
        return self.sweeper is not None and self.sweeper.keeps(workspace_id, reservation)
