"""``GcsSigner``: V4 signed URLs for any object (STYLE habit 9: v4, short expiry, pinned).

Signed with ``GCS_SIGNING_KEY_FILE`` when set (against the emulator's endpoint when emulated),
otherwise, as in Cloud Functions, through IAM signBlob with the runtime account's email and a
fresh access token (``service_account_email`` + ``access_token``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import service_account

from shared.errors import BadRequest, ConfigError
from shared.storage.base import SignedUpload
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.errors import edge

MAX_SIGNED_TTL = 7 * 24 * 3600  # the V4 limit


def expiry_of(url: str) -> int:
    """The Unix time a V4 URL stops working: ``X-Goog-Date`` + ``X-Goog-Expires``."""
    query = parse_qs(urlsplit(url).query)
    signed_at = datetime.strptime(query["X-Goog-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int(signed_at.timestamp()) + int(query["X-Goog-Expires"][0])


class GcsSigner:
    """Signs URLs for one connection's project, with a key file or IAM signBlob."""

    def __init__(self, conn: GcsConnection, key_file: str = "",
                 service_account_email: str = "") -> None:
        self.conn = conn
        self.key_file = key_file
        self.service_account_email = service_account_email
        self._lock = threading.Lock()
        self._key: service_account.Credentials | None = None

    def sign(self, bucket: str, name: str, ttl_seconds: int, **kwargs: Any) -> str:
        """A V4 signed URL for ``bucket/name`` (``method``, ``content_type``... as kwargs)."""
        if not 1 <= ttl_seconds <= MAX_SIGNED_TTL:
            raise BadRequest(f"a signed URL lives between 1 and {MAX_SIGNED_TTL} seconds")
        blob = self.conn.client.bucket(bucket).blob(name)
        with edge():
            return str(blob.generate_signed_url(
                version="v4", expiration=timedelta(seconds=ttl_seconds),
                **self._credentials(), **kwargs))

    def signed_put(self, bucket: str, name: str, content_type: str, size_bytes: int,
                   ttl_seconds: int) -> SignedUpload:
        """A create-only PUT of exactly ``size_bytes`` of ``content_type``."""
        if not content_type or size_bytes < 0:
            raise BadRequest("a signed upload needs a content type and a size")
        conditions = {"x-goog-content-length-range": f"{size_bytes},{size_bytes}",
                      "x-goog-if-generation-match": "0"}
        url = self.sign(bucket, name, ttl_seconds, method="PUT", content_type=content_type,
                        headers=dict(conditions))
        return SignedUpload(url, {"Content-Type": content_type, **conditions}, expiry_of(url))

    def _credentials(self) -> dict[str, Any]:
        """The key file's credentials, or IAM signBlob arguments with a fresh token."""
        if self.key_file:
            with self._lock:
                if self._key is None:
                    try:
                        self._key = service_account.Credentials.from_service_account_file(
                            self.key_file)
                    except (OSError, ValueError) as exc:
                        raise ConfigError("GCS_SIGNING_KEY_FILE is not a readable "
                                          "service-account key") from exc
            args: dict[str, Any] = {"credentials": self._key}
            if self.conn.emulator:
                args["api_access_endpoint"] = self.conn.emulator
            return args
        if self.conn.emulator:
            raise ConfigError("signing against the emulator needs GCS_SIGNING_KEY_FILE "
                              "(localdev/gcs_keys.py writes one)")
        credentials = self.conn.credentials
        with self._lock:
            if not credentials.valid:  # the token is cached until it nears expiry
                credentials.refresh(AuthRequest())
            token = credentials.token
        email = self.service_account_email or getattr(credentials, "service_account_email", "")
        if not email or email == "default":
            raise ConfigError("set GCS_SIGNING_SERVICE_ACCOUNT to sign URLs with IAM")
        return {"service_account_email": email, "access_token": token}
