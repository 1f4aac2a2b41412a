"""``EnvReader``: how every setting is read from the environment, once for all settings types.

``Settings`` (the functions) and ``FrontSettings`` (the ClamAV front) read the same variables
the same way: blank means unset, numbers are range-checked, booleans take true/false,
1/0, yes/no and on/off, and every bad value is a ``ConfigError`` naming the variable. The
fields both read (clamd, GCS, the size cap, the project) come from ``shared_fields`` here,
so the two can never parse them differently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shared.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvReader:
    """Typed reads of one environment mapping (``os.environ`` unless given)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def str(self, name: str, default: str = "") -> str:
        """The trimmed value, or ``default`` when unset."""
        return self.environ.get(name, default).strip()

    def bool(self, name: str, default: bool) -> bool:
        """A boolean; blank or unset is ``default``."""
        raw = self.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def int(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        """An integer within ``[minimum, maximum]``; blank or unset is ``default``."""
        raw = self.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
        if value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be <= {maximum}, got {value}")
        return value

    def list(self, name: str) -> tuple[str, ...]:
        """A comma list: trimmed, empties dropped."""
        return tuple(item.strip() for item in self.str(name).split(",") if item.strip())

    def names(self, name: str) -> tuple[str, ...]:
        """A comma list of names (bucket names): as ``list``, duplicates dropped, order kept."""
        return tuple(dict.fromkeys(self.list(name)))

    def on_cloud_run(self) -> bool:
        """True on Cloud Run / Cloud Functions (``K_SERVICE`` is set there)."""
        return bool(self.environ.get("K_SERVICE"))

    def shared_fields(self, clamd_host: str) -> dict[str, Any]:
        """The fields ``Settings`` and ``FrontSettings`` both have, read one way."""
        return {
            "clamav_service_host": self.str("CLAMAV_SERVICE_HOST", clamd_host) or clamd_host,
            "clamav_service_port": self.int("CLAMAV_SERVICE_PORT", 3310, minimum=1,
                                            maximum=65535),
            "clamav_timeout_seconds": self.int("CLAMAV_TIMEOUT_SECONDS", 120, minimum=1),
            "max_file_size_mb": self.int("MAX_FILE_SIZE_MB", 100, minimum=1),
            "gcp_project": (self.str("GOOGLE_CLOUD_PROJECT") or self.str("GCP_PROJECT")
                            or "workspace-local"),
            "storage_emulator_host": self.str("STORAGE_EMULATOR_HOST").rstrip("/"),
            "gcs_timeout_seconds": self.int("GCS_TIMEOUT_SECONDS", 60, minimum=1,
                                            maximum=3600),
            "gcs_chunk_mb": self.int("GCS_CHUNK_MB", 8, minimum=1, maximum=64),
            "gcs_retry_deadline_seconds": self.int("GCS_RETRY_DEADLINE_SECONDS", 30,
                                                   minimum=1, maximum=3600),
        }


def log_format() -> str:
    """``LOG_FORMAT`` (json or text); JSON by default on Cloud Run, where Cloud Logging reads it.

    Read on its own, not through ``Settings``, so logging works even when other settings
    are invalid and their error needs to be logged.
    """
    env = EnvReader()
    value = env.str("LOG_FORMAT").lower()
    if value in {"json", "text"}:
        return value
    return "json" if env.on_cloud_run() else "text"


def log_level() -> str:
    """``LOG_LEVEL`` (a standard level name; INFO when unset or unknown)."""
    value = EnvReader().str("LOG_LEVEL", "INFO").upper()
    return value if value in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"
