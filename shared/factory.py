"""The composition root: every backend and service, built from settings on first use.

Nothing in ``shared/`` imports this module (import-linter checks it): services receive their
dependencies as arguments, and only this module decides which backend serves which role.
Nothing is built at import time (cold starts are a product metric). ``reset()`` forgets
everything, for tests that change the environment.

The in-process entry points of the media pipeline (``store_media_file``,
``clean_exec_files``) live here too: they are the composed service behind a plain function.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from shared.config import Settings, get_settings, reset_settings

# Every service and backend loads inside its builder, on first use: importing a function
# module (a cold start) then costs the framework and the module's own parsing, not the
# whole domain (JWT and crypto, the models, every service) before the first request needs it.
if TYPE_CHECKING:
    from shared.apikeys.credentials import Credentials
    from shared.apikeys.service import KeyService
    from shared.auth import Authenticator
    from shared.files.edits import FileEdits
    from shared.files.folders import FolderService
    from shared.files.service import FileService
    from shared.maintenance import Maintenance
    from shared.media.gcs_input import GcsInput
    from shared.media.service import ExecutionContext, MediaService
    from shared.memory.service import MemoryService
    from shared.metadata.base import MetadataStore
    from shared.oplog import LogService
    from shared.outbox.feed import EventFeed
    from shared.outbox.publisher import EventPublisher
    from shared.quota import Quota
    from shared.rescans.job import RescanJob
    from shared.rescans.service import Rescans
    from shared.scanfront.service import ScanFront
    from shared.scanfront.settings import FrontSettings
    from shared.scanning.base import ObjectOpener, Scanner
    from shared.search import SearchService
    from shared.signing import UrlSigner
    from shared.storage.base import BlobStore
    from shared.storage.gcs.objects import GcsObjects
    from shared.uploads.service import DirectUploads
    from shared.workspace import WorkspaceService

log = logging.getLogger(__name__)

T = TypeVar("T")
_BUILD_LOCK = threading.RLock()  # re-entrant: builders call other builders


class _Once(Generic[T]):
    """A builder run at most once per process, even when the first calls race.

    ``functools.cache`` alone lets two threads build at the same time: two SQLite stores
    migrating one file at once, two clamd clients. The lock is only taken until the
    object exists; later calls read it without locking.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: list[T] = []
        functools.update_wrapper(self, build)

    def __call__(self) -> T:
        if not self._built:
            with _BUILD_LOCK:
                if not self._built:
                    self._built.append(self._build())
        return self._built[0]

    def cache_clear(self) -> None:
        """Forget the built object (``reset``)."""
        with _BUILD_LOCK:
            self._built.clear()


@_Once
def gcs_objects() -> GcsObjects:
    """The process's one GCS connection (client, session, retry) and URL signer."""
    from shared.storage.gcs.connection import GcsConnection
    from shared.storage.gcs.objects import GcsObjects
    from shared.storage.gcs.signing import GcsSigner

    settings = get_settings()
    conn = GcsConnection.from_settings(settings)
    return GcsObjects(conn, GcsSigner(conn, settings.gcs_signing_key_file,
                                      settings.gcs_signing_service_account))


@_Once
def blob_store() -> BlobStore:
    """Local disk unless ``MEDIA_GCS_BUCKET_NAME`` is set (the spec's rule)."""
    settings = get_settings()
    if settings.media_gcs_bucket_name:
        from shared.storage.gcs.store import GcsBlobStore

        return GcsBlobStore(gcs_objects(), settings.media_gcs_bucket_name,
                            prefix=settings.gcs_object_prefix,
                            chunk_size=settings.gcs_chunk_mb * 1024 * 1024,
                            incoming_bucket=settings.incoming_gcs_bucket_name,
                            quarantine_bucket=settings.quarantine_gcs_bucket_name)
    from shared.storage.local import LocalBlobStore

    return LocalBlobStore(settings.workspace_storage_dir)


@_Once
def metadata_store() -> MetadataStore:
    """SQLite in the storage dir unless ``METADATA_BACKEND=firestore``."""
    settings = get_settings()
    if settings.metadata_backend == "firestore":
        from shared.metadata.firestore import FirestoreMetadataStore

        return FirestoreMetadataStore(settings, deadline=settings.firestore_deadline_seconds)
    from shared.metadata.sqlite import SqliteMetadataStore

    return SqliteMetadataStore(settings.workspace_storage_dir)


def _object_opener(settings: Settings) -> ObjectOpener | None:
    """How a scanner that reads bytes itself opens a stored object (GCS deployments)."""
    if not settings.media_gcs_bucket_name:
        return None
    return lambda ref, max_bytes: gcs_objects().open(ref, max_bytes)


@_Once
def scanner() -> Scanner:
    """clamd, unless ``CLAMAV_SERVICE_ENABLED=false`` (which is logged loudly); the HTTP
    front when ``CLAMAV_SERVICE_URL`` is set (Cloud Run, where clamd's port is unreachable)."""
    settings = get_settings()
    if not settings.clamav_service_enabled:
        from shared.scanning.disabled import DisabledScanner

        log.warning("VIRUS SCANNING IS DISABLED (CLAMAV_SERVICE_ENABLED=false)")
        return DisabledScanner(_object_opener(settings))
    if settings.clamav_service_url:
        from shared.scanning.http import HttpScanner

        return HttpScanner(settings.clamav_service_url, settings.clamav_timeout_seconds)
    from shared.scanning.clamd import ClamdScanner

    return ClamdScanner(settings.clamav_service_host, settings.clamav_service_port,
                        settings.clamav_timeout_seconds, _object_opener(settings))


@_Once
def signer() -> UrlSigner:
    """HMAC signer for local download links; ``SIGNING_SECRET`` or a key in the storage dir."""
    from shared.signing import UrlSigner, load_or_create_key

    settings = get_settings()
    if settings.signing_secret:
        return UrlSigner(settings.signing_secret.encode())
    return UrlSigner(load_or_create_key(settings.workspace_storage_dir))


@_Once
def authenticator() -> Authenticator:
    """Bearer-token verification for the configured ``AUTH_MODE``."""
    from shared.auth import Authenticator

    return Authenticator(get_settings())


@_Once
def key_service() -> KeyService:
    """Workspace API keys, metered at ``API_KEY_RATE_PER_MINUTE`` each."""
    from shared.apikeys.service import KeyService

    return KeyService(metadata_store(), get_settings().api_key_rate_per_minute)


@_Once
def credentials() -> Credentials:
    """Bearer credentials: users' JWTs and workspace API keys."""
    from shared.apikeys.credentials import Credentials

    return Credentials(authenticator(), key_service())


@_Once
def quota() -> Quota:
    """``WORKSPACE_QUOTA_MB`` over every stored byte (live, kept, in flight)."""
    from shared.quota import Quota

    return Quota(metadata_store(), get_settings().workspace_quota_bytes)


@_Once
def file_service() -> FileService:
    """File operations over the configured backends."""
    from shared.files.service import FileService

    return FileService(get_settings(), blob_store(), metadata_store(), scanner(), signer(),
                       quota())


@_Once
def file_edits() -> FileEdits:
    """Edits, restores and batch deletes of existing files."""
    from shared.files.edits import FileEdits

    return FileEdits(file_service())


@_Once
def folder_service() -> FolderService:
    """Moves and renames, folder listings and folder moves."""
    from shared.files.folders import FolderService

    return FolderService(metadata_store(), get_settings().folder_move_budget_seconds)


@_Once
def direct_uploads() -> DirectUploads:
    """Signed-URL uploads: ``upload-url``, the finalize handler and their sweep."""
    from shared.uploads.service import DirectUploads

    return DirectUploads(get_settings(), blob_store(), metadata_store(), scanner(), quota())


@_Once
def maintenance() -> Maintenance:
    """The scheduled sweep (purge, stale reservations, direct-upload reconciliation, idle
    folder moves, retention, and the outbox's backstop drain when ``EVENTS_TOPIC`` is
    set)."""
    from shared.files.maintenance import FileMaintenance
    from shared.maintenance import Maintenance

    settings = get_settings()
    return Maintenance(FileMaintenance(blob_store(), metadata_store()), direct_uploads(),
                       metadata_store(), settings.log_retention_days,
                       settings.event_retention_days,
                       event_publisher() if settings.events_topic else None,
                       folder_service())


@_Once
def rescans() -> Rescans:
    """Rescans of stored files (``POST /files/{id}/rescan``, the rescan job)."""
    from shared.rescans.service import Rescans

    return Rescans(blob_store(), metadata_store(), scanner(),
                   get_settings().max_file_size_bytes)


@_Once
def rescan_job() -> RescanJob:
    """The rescan pass after a signature update (``RESCAN_BATCH``, ``RESCAN_RATE_PER_SECOND``)."""
    from shared.rescans.job import RescanJob

    settings = get_settings()
    return RescanJob(rescans(), metadata_store(), settings.rescan_batch,
                     settings.rescan_rate_per_second)


@_Once
def event_feed() -> EventFeed:
    """``GET /events``: the outbox, per workspace."""
    from shared.outbox.feed import EventFeed

    return EventFeed(metadata_store())


@_Once
def event_publisher() -> EventPublisher:
    """The outbox's publisher to ``EVENTS_TOPIC`` (Pub/Sub; the emulator when
    ``PUBSUB_EMULATOR_HOST`` is set)."""
    from shared.errors import ConfigError
    from shared.outbox.publisher import EventPublisher
    from shared.outbox.pubsub import PubSubSink

    settings = get_settings()
    if not settings.events_topic:
        raise ConfigError("publishing events needs EVENTS_TOPIC")
    return EventPublisher(metadata_store(), PubSubSink(settings.gcp_project,
                                                       settings.events_topic),
                          settings.events_lease_seconds)


@_Once
def log_service() -> LogService:
    """Operation-log queries."""
    from shared.oplog import LogService

    return LogService(metadata_store())


@_Once
def memory_service() -> MemoryService:
    """Global memory."""
    from shared.memory.service import MemoryService

    settings = get_settings()
    return MemoryService(metadata_store(), settings.memory_max_length, settings.memory_history)


@_Once
def search_service() -> SearchService:
    """Combined search over files, memory and logs."""
    from shared.search import SearchService

    return SearchService(metadata_store())


@_Once
def workspace_service() -> WorkspaceService:
    """Workspace summaries and usage."""
    from shared.workspace import WorkspaceService

    memory = memory_service()
    return WorkspaceService(metadata_store(), memory.max_length, memory.length, quota(),
                            get_settings().log_retention_days)


@_Once
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
    return MediaService(settings, file_service(), scanner(), Fetcher(NetPolicy(), limits),
                        gcs_input())


def gcs_input() -> GcsInput:
    """The reader of ``gcs://`` media inputs (allow-listed buckets; the client on first use)."""
    from shared.media.gcs_input import GcsInput

    settings = get_settings()
    opener = (lambda bucket, name: gcs_objects().open_live(bucket, name)) \
        if settings.media_gcs_allowed_buckets else None
    return GcsInput(settings.media_gcs_allowed_buckets, opener)


def store_media_file(file: str, execution_context: ExecutionContext,
                     return_format: str) -> str:
    """Normalise ``file`` for a block: a path relative to the exec dir
    (``for_local_processing``), a data URI (``for_external_api``), or for
    ``for_block_output`` a ``workspace://<file_id>#<mime>`` reference in a session and a
    data URI otherwise. Raises the service's errors (400/403/404/413/422/502/503)."""
    return media_service().store(execution_context, file, return_format).result


def clean_exec_files(graph_exec_id: str,
                     execution_context: ExecutionContext | None = None) -> int:
    """Remove the execution's temp files once it has finished; how many were removed."""
    return media_service().clean(graph_exec_id, execution_context)


# -- the ClamAV front (its own Cloud Run service) --------------------------------------------
@_Once
def front_settings() -> FrontSettings:
    """The front's settings, read on first use (a bad one stops its boot)."""
    from shared.scanfront.settings import FrontSettings

    return FrontSettings.from_env()


@_Once
def scan_front() -> ScanFront:
    """The ClamAV front over the local clamd, reading GCS objects with a read-only client."""
    from shared.scanfront.service import ScanFront

    return ScanFront(front_settings())


def reset() -> None:
    """Forget the settings and every built object (tests change the environment)."""
    reset_settings()
    for built in (gcs_objects, blob_store, metadata_store, scanner, signer, authenticator,
                  key_service, credentials, quota, file_service, file_edits, folder_service,
                  direct_uploads, maintenance, rescans, rescan_job, event_feed, event_publisher,
                  log_service, memory_service, search_service, workspace_service, media_service,
                  front_settings, scan_front):
        built.cache_clear()
