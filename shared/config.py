"""Settings: one frozen ``Settings`` value read from the environment, validated once.

Names follow the specs (``MAX_FILE_SIZE_MB``, ``CLAMAV_SERVICE_ENABLED`` ...), upper-cased.
Every setting the service reads lives here, so a deployment can be audited from one file.
``get_settings()`` caches the value; tests call ``shared.factory.reset()`` after changing
the environment. Reading is ``shared.env.EnvReader``'s, shared with the front's settings.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field

from shared.env import EnvReader
from shared.errors import ConfigError

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


def _origins(env: EnvReader, name: str) -> tuple[str, ...]:
    """Origins compare exactly with a browser's ``Origin`` header, which has no slash."""
    return tuple(item.rstrip("/") for item in env.list(name))


@dataclass(frozen=True)
class Settings:
    """Validated configuration; build it with ``Settings.from_env()``."""

    workspace_storage_dir: str = "Runtime"
    media_gcs_bucket_name: str = ""
    metadata_backend: str = "sqlite"
    max_file_size_mb: int = 100
    clamav_service_enabled: bool = True
    clamav_service_host: str = "localhost"
    clamav_service_port: int = 3310
    clamav_port_explicit: bool = False
    clamav_timeout_seconds: int = 120
    auth_mode: str = "jwks"
    auth_dev_secret: str = ""
    auth_jwks_url: str = ""
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks_timeout_seconds: int = 5
    firebase_project_id: str = ""
    firebase_auth_emulator_host: str = ""
    cors_allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    signing_secret: str = ""
    download_url_ttl_seconds: int = 300
    file_retention_days: int = 30
    log_retention_days: int = 90
    list_default_limit: int = 100
    list_max_limit: int = 1000
    public_base_url: str = ""
    gcp_project: str = "workspace-local"
    gcs_object_prefix: str = "workspaces"
    gcs_signing_key_file: str = ""
    gcs_signing_service_account: str = ""
    storage_emulator_host: str = ""
    firestore_emulator_host: str = ""
    gcs_timeout_seconds: int = 60
    gcs_chunk_mb: int = 8
    gcs_retry_deadline_seconds: int = 30
    firestore_deadline_seconds: int = 10
    memory_max_length: int = 100_000
    memory_history: int = 20
    media_exec_root: str = "/tmp/exec_file"
    media_gcs_allowed_buckets: tuple[str, ...] = field(default_factory=tuple)
    media_max_body_mb: int = 32
    media_exec_ttl_seconds: int = 3600
    media_fetch_connect_timeout_seconds: int = 5
    media_fetch_read_timeout_seconds: int = 30
    media_fetch_total_timeout_seconds: int = 120
    media_fetch_max_redirects: int = 5
    clamav_service_url: str = ""
    incoming_gcs_bucket_name: str = ""
    quarantine_gcs_bucket_name: str = ""
    upload_url_ttl_seconds: int = 900
    scan_event_max_age_seconds: int = 86400
    workspace_quota_mb: int = 0
    reconcile_after_seconds: int = 600
    folder_move_budget_seconds: int = 20
    http_header_timeout_seconds: int = 10
    http_idle_timeout_seconds: int = 30
    http_min_bytes_per_second: int = 1024
    api_key_rate_per_minute: int = 600
    event_retention_days: int = 7
    events_topic: str = ""
    pubsub_emulator_host: str = ""
    events_lease_seconds: int = 60
    rescan_batch: int = 50
    rescan_rate_per_second: int = 5

    @property
    def max_file_size_bytes(self) -> int:
        """The upload cap in bytes (``MAX_FILE_SIZE_MB`` is MiB, as the spec means)."""
        return self.max_file_size_mb * 1024 * 1024

    @property
    def media_max_body_bytes(self) -> int:
        """The cap on a ``POST /media`` JSON body (Cloud Run refuses more than 32 MiB)."""
        return self.media_max_body_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> Settings:  # long: one line a setting
        """Read and check every setting; raises ``ConfigError`` on a bad value."""
        env = env or EnvReader()
        auth_mode = env.str("AUTH_MODE", "jwks").lower()
        if auth_mode not in {"dev", "jwks", "firebase"}:
            raise ConfigError("AUTH_MODE must be dev, jwks or firebase")
        metadata_backend = env.str("METADATA_BACKEND", "sqlite").lower()
        if metadata_backend not in {"sqlite", "firestore"}:
            raise ConfigError("METADATA_BACKEND must be sqlite or firestore")
        settings = cls(
            **env.shared_fields("localhost"),
            workspace_storage_dir=env.str("WORKSPACE_STORAGE_DIR", "Runtime") or "Runtime",
            media_gcs_bucket_name=env.str("MEDIA_GCS_BUCKET_NAME"),
            metadata_backend=metadata_backend,
            clamav_service_enabled=env.bool("CLAMAV_SERVICE_ENABLED", True),
            # The local server starts a private clamd on a free port unless a port is given.
            clamav_port_explicit=bool(env.str("CLAMAV_SERVICE_PORT")),
            auth_mode=auth_mode,
            auth_dev_secret=env.str("AUTH_DEV_SECRET"),
            auth_jwks_url=env.str("AUTH_JWKS_URL"),
            auth_issuer=env.str("AUTH_ISSUER"),
            auth_audience=env.str("AUTH_AUDIENCE"),
            auth_jwks_timeout_seconds=env.int("AUTH_JWKS_TIMEOUT_SECONDS", 5, minimum=1,
                                              maximum=60),
            firebase_project_id=env.str("FIREBASE_PROJECT_ID"),
            firebase_auth_emulator_host=env.str("FIREBASE_AUTH_EMULATOR_HOST"),
            cors_allowed_origins=_origins(env, "CORS_ALLOWED_ORIGINS"),
            signing_secret=env.str("SIGNING_SECRET"),
            download_url_ttl_seconds=env.int("DOWNLOAD_URL_TTL_SECONDS", 300, minimum=1,
                                          maximum=604800),  # V4 signed URLs: 7 days max
            file_retention_days=env.int("FILE_RETENTION_DAYS", 30, minimum=0),
            log_retention_days=env.int("LOG_RETENTION_DAYS", 90, minimum=0, maximum=36500),
            list_default_limit=env.int("LIST_DEFAULT_LIMIT", 100, minimum=1),
            list_max_limit=env.int("LIST_MAX_LIMIT", 1000, minimum=1),
            public_base_url=env.str("PUBLIC_BASE_URL").rstrip("/"),
            gcs_object_prefix=env.str("GCS_OBJECT_PREFIX", "workspaces").strip("/") or "workspaces",
            gcs_signing_key_file=env.str("GCS_SIGNING_KEY_FILE"),
            gcs_signing_service_account=env.str("GCS_SIGNING_SERVICE_ACCOUNT"),
            firestore_emulator_host=env.str("FIRESTORE_EMULATOR_HOST"),
            firestore_deadline_seconds=env.int("FIRESTORE_DEADLINE_SECONDS", 10, minimum=1,
                                            maximum=600),
            memory_max_length=env.int("MEMORY_MAX_LENGTH", 100_000, minimum=200,
                                   maximum=10_000_000),
            memory_history=env.int("MEMORY_HISTORY", 20, minimum=1, maximum=1000),
            media_exec_root=env.str("MEDIA_EXEC_ROOT", "/tmp/exec_file") or "/tmp/exec_file",
            media_gcs_allowed_buckets=env.names("MEDIA_GCS_ALLOWED_BUCKETS"),
            media_max_body_mb=env.int("MEDIA_MAX_BODY_MB", 32, minimum=1, maximum=1024),
            media_exec_ttl_seconds=env.int("MEDIA_EXEC_TTL_SECONDS", 3600, minimum=60),
            media_fetch_connect_timeout_seconds=env.int("MEDIA_FETCH_CONNECT_TIMEOUT_SECONDS", 5,
                                                     minimum=1, maximum=300),
            media_fetch_read_timeout_seconds=env.int("MEDIA_FETCH_READ_TIMEOUT_SECONDS", 30,
                                                  minimum=1, maximum=3600),
            media_fetch_total_timeout_seconds=env.int("MEDIA_FETCH_TOTAL_TIMEOUT_SECONDS", 120,
                                                   minimum=1, maximum=3600),
            media_fetch_max_redirects=env.int("MEDIA_FETCH_MAX_REDIRECTS", 5, minimum=0,
                                           maximum=20),
            clamav_service_url=env.str("CLAMAV_SERVICE_URL").rstrip("/"),
            incoming_gcs_bucket_name=env.str("INCOMING_GCS_BUCKET_NAME"),
            quarantine_gcs_bucket_name=env.str("QUARANTINE_GCS_BUCKET_NAME"),
            # At most 30 min, so a URL is always dead before the 1 h stale-reservation sweep.
            upload_url_ttl_seconds=env.int("UPLOAD_URL_TTL_SECONDS", 900, minimum=60,
                                        maximum=1800),
            scan_event_max_age_seconds=env.int("SCAN_EVENT_MAX_AGE_SECONDS", 86400, minimum=60),
            workspace_quota_mb=env.int("WORKSPACE_QUOTA_MB", 0, minimum=0),
            reconcile_after_seconds=env.int("RECONCILE_AFTER_SECONDS", 600, minimum=0),
            # How long one POST /folders/move works on Firestore before answering 202.
            folder_move_budget_seconds=env.int("FOLDER_MOVE_BUDGET_SECONDS", 20, minimum=0,
                                               maximum=240),
            http_header_timeout_seconds=env.int("HTTP_HEADER_TIMEOUT_SECONDS", 10, minimum=1,
                                                maximum=600),
            http_idle_timeout_seconds=env.int("HTTP_IDLE_TIMEOUT_SECONDS", 30, minimum=1,
                                              maximum=3600),
            http_min_bytes_per_second=env.int("HTTP_MIN_BYTES_PER_SECOND", 1024, minimum=0),
            api_key_rate_per_minute=env.int("API_KEY_RATE_PER_MINUTE", 600, minimum=0,
                                            maximum=1_000_000),
            event_retention_days=env.int("EVENT_RETENTION_DAYS", 7, minimum=1, maximum=3650),
            events_topic=env.str("EVENTS_TOPIC"),
            pubsub_emulator_host=env.str("PUBSUB_EMULATOR_HOST"),
            events_lease_seconds=env.int("EVENTS_LEASE_SECONDS", 60, minimum=1, maximum=3600),
            rescan_batch=env.int("RESCAN_BATCH", 50, minimum=1, maximum=1000),
            rescan_rate_per_second=env.int("RESCAN_RATE_PER_SECOND", 5, minimum=1,
                                           maximum=1000),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Reject combinations that would run insecurely or not at all."""
        if self.auth_mode == "dev" and os.environ.get("K_SERVICE"):
            raise ConfigError("AUTH_MODE=dev is for local use; it is refused on Cloud Run")
        if self.auth_mode == "dev" and len(self.auth_dev_secret) < 32:
            raise ConfigError("AUTH_MODE=dev needs AUTH_DEV_SECRET of at least 32 characters")
        if self.auth_mode == "jwks" and not (
            self.auth_jwks_url and self.auth_issuer and self.auth_audience
        ):
            raise ConfigError("AUTH_MODE=jwks needs AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE")
        if self.auth_mode == "firebase" and not self.firebase_project_id:
            raise ConfigError("AUTH_MODE=firebase needs FIREBASE_PROJECT_ID")
        if self.firebase_auth_emulator_host and os.environ.get("K_SERVICE"):
            # The emulator's tokens are unsigned: trusting them anywhere real is no auth.
            raise ConfigError("FIREBASE_AUTH_EMULATOR_HOST is for local use; it is refused on "
                              "Cloud Run")
        if self.public_base_url and not self.public_base_url.startswith(("https://", "http://")):
            raise ConfigError("PUBLIC_BASE_URL must start with https:// or http://")
        if "*" in self.cors_allowed_origins:
            raise ConfigError("CORS_ALLOWED_ORIGINS may not contain '*' on authenticated routes")
        if self.list_default_limit > self.list_max_limit:
            raise ConfigError("LIST_DEFAULT_LIMIT may not exceed LIST_MAX_LIMIT")
        _check_service_url(self.clamav_service_url)
        if bool(self.incoming_gcs_bucket_name) != bool(self.quarantine_gcs_bucket_name):
            raise ConfigError("INCOMING_GCS_BUCKET_NAME and QUARANTINE_GCS_BUCKET_NAME "
                              "are set together")
        buckets = {self.media_gcs_bucket_name, self.incoming_gcs_bucket_name,
                   self.quarantine_gcs_bucket_name}
        if self.incoming_gcs_bucket_name and len(buckets) != 3:
            raise ConfigError("the files, incoming and quarantine buckets must all differ")
        self._check_media()

    def _check_media(self) -> None:
        """The exec root must be a dedicated absolute dir; ``gcs://`` may never reach the
        service's own buckets, whose objects belong to users (or are unscanned)."""
        root = os.path.normpath(self.media_exec_root)
        if not os.path.isabs(root) or root == "/":
            raise ConfigError("MEDIA_EXEC_ROOT must be an absolute directory other than /")
        own = {self.media_gcs_bucket_name, self.incoming_gcs_bucket_name,
               self.quarantine_gcs_bucket_name} - {""}
        for bucket in self.media_gcs_allowed_buckets:
            if not _BUCKET_RE.fullmatch(bucket):
                raise ConfigError(f"MEDIA_GCS_ALLOWED_BUCKETS: {bucket!r} is not a bucket name")
            if bucket in own:
                raise ConfigError(f"MEDIA_GCS_ALLOWED_BUCKETS may not name the service's own "
                                  f"bucket {bucket!r}")

    @property
    def workspace_quota_bytes(self) -> int:
        """The per-workspace quota in bytes; 0 means unlimited."""
        return self.workspace_quota_mb * 1024 * 1024


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import: cold starts)."""
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (``shared.factory.reset`` also forgets what was built)."""
    get_settings.cache_clear()


def _check_service_url(url: str) -> None:
    """``CLAMAV_SERVICE_URL``: http(s); https on Cloud Run, where the ID token must not leak."""
    if not url:
        return
    if not url.startswith(("https://", "http://")):
        raise ConfigError("CLAMAV_SERVICE_URL must start with https:// or http://")
    if os.environ.get("K_SERVICE") and not url.startswith("https://"):
        raise ConfigError("CLAMAV_SERVICE_URL must be https:// on Cloud Run")
