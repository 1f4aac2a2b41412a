"""``FrontSettings``: the ClamAV front's configuration, read like ``Settings`` (``EnvReader``).

Separate from ``Settings`` because the front has no users: it needs neither ``AUTH_MODE``
nor a metadata backend, only clamd, GCS reads and the ID-token check on its callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.env import EnvReader
from shared.errors import ConfigError

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


@dataclass(frozen=True)
class FrontSettings:
    """Settings of the ClamAV HTTP front (the ``clamav`` Cloud Run service)."""

    clamav_service_host: str = "127.0.0.1"
    clamav_service_port: int = 3310
    clamav_timeout_seconds: int = 120
    max_file_size_mb: int = 100
    auth: str = "none"  # "id_token" (Google ID tokens) or "none" (refused on Cloud Run)
    allowed_invokers: tuple[str, ...] = field(default_factory=tuple)
    audiences: tuple[str, ...] = field(default_factory=tuple)
    certs_url: str = GOOGLE_CERTS_URL
    require_db_version: bool = False
    gcp_project: str = "workspace-local"
    storage_emulator_host: str = ""
    gcs_timeout_seconds: int = 60
    gcs_chunk_mb: int = 8
    gcs_retry_deadline_seconds: int = 30

    @property
    def max_file_size_bytes(self) -> int:
        """The largest body or object the front scans (``MAX_FILE_SIZE_MB``, MiB)."""
        return self.max_file_size_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> FrontSettings:
        """Read and check the front's settings; raises ``ConfigError`` on a bad value."""
        env = env or EnvReader()
        on_cloud_run = env.on_cloud_run()
        auth = env.str("CLAMAV_FRONT_AUTH").lower() or ("id_token" if on_cloud_run else "none")
        if auth not in {"id_token", "none"}:
            raise ConfigError("CLAMAV_FRONT_AUTH must be id_token or none")
        settings = cls(
            **env.shared_fields("127.0.0.1"),
            auth=auth,
            allowed_invokers=tuple(e.lower() for e in env.list("CLAMAV_FRONT_ALLOWED_INVOKERS")),
            audiences=tuple(a.rstrip("/") for a in env.list("CLAMAV_FRONT_AUDIENCE")),
            certs_url=env.str("CLAMAV_FRONT_CERTS_URL") or GOOGLE_CERTS_URL,
            require_db_version=env.bool("CLAMAV_FRONT_REQUIRE_DB_VERSION", on_cloud_run),
        )
        settings.check(on_cloud_run)
        return settings

    def check(self, on_cloud_run: bool) -> None:
        """Refuse to serve unauthenticated on Cloud Run, or with an auth check that admits none."""
        if self.auth == "none":
            if on_cloud_run:
                raise ConfigError("CLAMAV_FRONT_AUTH=none is refused on Cloud Run (K_SERVICE)")
            return
        if not self.allowed_invokers:
            raise ConfigError("CLAMAV_FRONT_AUTH=id_token needs CLAMAV_FRONT_ALLOWED_INVOKERS")
        if not self.audiences:
            raise ConfigError("CLAMAV_FRONT_AUTH=id_token needs CLAMAV_FRONT_AUDIENCE "
                              "(the service's URL)")
        loopback = self.certs_url.startswith(("http://127.0.0.1:", "http://localhost:"))
        if not (self.certs_url.startswith("https://") or loopback):
            raise ConfigError("CLAMAV_FRONT_CERTS_URL must be https:// (or a loopback URL)")
