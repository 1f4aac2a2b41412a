"""The one cached factory: backends and services, built from settings on first use.

Nothing is built at import time (cold starts are a product metric). ``reset()`` forgets
everything, for tests that change the environment.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from shared.auth import Authenticator
from shared.config import get_settings
from shared.files import FileService
from shared.logs import LogService
from shared.memory import MemoryService
from shared.metadata.base import MetadataStore
from shared.scanning.base import Scanner
from shared.search import SearchService
from shared.signing import UrlSigner, load_or_create_key
from shared.storage.base import BlobStore
from shared.workspace import WorkspaceService

if TYPE_CHECKING:  # these load on first use (urllib3, the GCS client): cold starts
    from shared.direct_upload import DirectUploads
    from shared.media.service import MediaService
    from shared.reconcile import Reconciler
    from shared.scan_uploads import ScanUploads
    from shared.scanning.gcs_source import GcsObjectReader

log = logging.getLogger(__name__)


@functools.cache
def blob_store() -> BlobStore:
    """Local disk unless ``MEDIA_GCS_BUCKET_NAME`` is set (the spec's rule)."""
    settings = get_settings()
    if settings.media_gcs_bucket_name:
        from shared.storage.gcs import GcsBlobStore

        return GcsBlobStore(settings, chunk_size=settings.gcs_chunk_mb * 1024 * 1024,
                            timeout=settings.gcs_timeout_seconds,
                            retry_deadline=settings.gcs_retry_deadline_seconds)
    from shared.storage.local import LocalBlobStore

    return LocalBlobStore(settings.workspace_storage_dir)


@functools.cache
def metadata_store() -> MetadataStore:
    """SQLite in the storage dir unless ``METADATA_BACKEND=firestore``."""
    settings = get_settings()
    if settings.metadata_backend == "firestore":
        from shared.metadata.firestore import FirestoreMetadataStore

        return FirestoreMetadataStore(settings, deadline=settings.firestore_deadline_seconds)
    from shared.metadata.sqlite import SqliteMetadataStore

    return SqliteMetadataStore(settings.workspace_storage_dir)


@functools.cache
def scanner() -> Scanner:
    """clamd, unless ``CLAMAV_SERVICE_ENABLED=false`` (which is logged loudly); the HTTP
    front when ``CLAMAV_SERVICE_URL`` is set (Cloud Run, where clamd's port is unreachable)."""
    settings = get_settings()
    if not settings.clamav_service_enabled:
        from shared.scanning.disabled import DisabledScanner

        log.warning("VIRUS SCANNING IS DISABLED (CLAMAV_SERVICE_ENABLED=false)")
        return DisabledScanner()
    if settings.clamav_service_url:
        from shared.scanning.http import HttpScanner

        return HttpScanner(settings.clamav_service_url, settings.clamav_timeout_seconds)
    from shared.scanning.clamd import ClamdScanner

    return ClamdScanner(settings.clamav_service_host, settings.clamav_service_port,
                        settings.clamav_timeout_seconds)


@functools.cache
def gcs_object_reader() -> GcsObjectReader:
    """Reads pinned generations of any bucket's objects (what the scanner scans)."""
    from shared.scanning.gcs_source import GcsObjectReader

    return GcsObjectReader(get_settings())


@functools.cache
def signer() -> UrlSigner:
    """HMAC signer for local download links; ``SIGNING_SECRET`` or a key in the storage dir."""
    settings = get_settings()
    if settings.signing_secret:
        return UrlSigner(settings.signing_secret.encode())
    return UrlSigner(load_or_create_key(settings.workspace_storage_dir))


@functools.cache
def authenticator() -> Authenticator:
    """Bearer-token verification for the configured ``AUTH_MODE``."""
    return Authenticator(get_settings())


@functools.cache
def file_service() -> FileService:
    """File operations over the configured backends."""
    return FileService(get_settings(), blob_store(), metadata_store(), scanner(), signer())


@functools.cache
def log_service() -> LogService:
    """Operation-log queries."""
    return LogService(metadata_store())


@functools.cache
def memory_service() -> MemoryService:
    """Global memory."""
    settings = get_settings()
    return MemoryService(metadata_store(), settings.memory_max_length, settings.memory_history)


@functools.cache
def search_service() -> SearchService:
    """Combined search over files, memory and logs."""
    return SearchService(metadata_store())


@functools.cache
def workspace_service() -> WorkspaceService:
    """Workspace summaries."""
    memory = memory_service()
    return WorkspaceService(metadata_store(), memory.max_length, memory.length)


@functools.cache
def media_service() -> MediaService:
    """``store_media_file`` over the workspace, the scanner and an SSRF-safe fetcher.

    The fetch policy has no allowances: nothing in settings can open loopback or private
    addresses (tests build their own ``MediaService`` with ``NetPolicy.for_tests``).
    """
    from shared.media.fetch import Fetcher, FetchLimits
    from shared.media.netpolicy import NetPolicy
    from shared.media.service import MediaService

    settings = get_settings()
    limits = FetchLimits(connect_timeout=settings.media_fetch_connect_timeout_seconds,
                         read_timeout=settings.media_fetch_read_timeout_seconds,
                         total_timeout=settings.media_fetch_total_timeout_seconds,
                         max_redirects=settings.media_fetch_max_redirects)
    return MediaService(settings, file_service(), scanner(), Fetcher(NetPolicy(), limits))


@functools.cache
def direct_uploads() -> DirectUploads:
    """Signed-URL uploads (``POST /files/upload-url``)."""
    from shared.direct_upload import DirectUploads

    return DirectUploads(get_settings(), file_service())


@functools.cache
def scan_uploads() -> ScanUploads | None:
    """The finalize handler; None unless direct uploads are configured (GCS + incoming)."""
    settings = get_settings()
    store = blob_store()
    if not settings.direct_uploads:
        return None
    from shared.scan_uploads import ScanUploads
    from shared.storage.gcs import GcsBlobStore
    from shared.storage.gcs_objects import GcsObjects

    assert isinstance(store, GcsBlobStore)
    return ScanUploads(settings, store, metadata_store(), scanner(), GcsObjects(store))


@functools.cache
def reconciler() -> Reconciler:
    """The scheduled sweep (purge, stale reservations, direct-upload reconciliation)."""
    from shared.reconcile import Reconciler

    return Reconciler(file_service(), scan_uploads(), get_settings().reconcile_after_seconds)


def reset() -> None:
    """Forget every built object (tests change the environment between cases)."""
    for built in (blob_store, metadata_store, scanner, signer, authenticator, file_service,
                  log_service, memory_service, search_service, workspace_service,
                  media_service, direct_uploads, scan_uploads, reconciler):
        built.cache_clear()
    gcs_object_reader.cache_clear()
