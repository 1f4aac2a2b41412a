"""``health_report``: which backends are in use and whether each answers right now."""

from __future__ import annotations

from typing import Any

from shared.metadata.base import MetadataStore
from shared.scanning.base import Scanner
from shared.storage.base import BlobStore


def health_report(blobs: BlobStore, meta: MetadataStore, scanner: Scanner) -> dict[str, Any]:
    """``status`` is ``ok`` only when metadata answers and, if enabled, the scanner too."""
    metadata_ok = meta.ping()
    scanner_ok = scanner.ping() if scanner.enabled else None
    healthy = metadata_ok and (scanner_ok is not False)
    return {
        "status": "ok" if healthy else "degraded",
        # Names only: this route is public, so no paths, buckets or projects (see describe()).
        "backends": {
            "blobs": {"backend": blobs.name},
            "metadata": {"backend": meta.name, "reachable": metadata_ok},
            "scanner": {"backend": scanner.name, "enabled": scanner.enabled,
                        "reachable": scanner_ok},
        },
    }
