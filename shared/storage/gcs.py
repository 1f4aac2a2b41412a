"""``GcsBlobStore``: blobs as Google Cloud Storage objects, with V4 signed URLs.

A file version lives at ``{GCS_OBJECT_PREFIX}/{key}``. An upload streams in one request fed
from a bounded queue (``GcsStagedBlob``, memory bounded by the chunk size). When its key is
known before the bytes (``stage(key)``: the upload reserved its path first) it is written there
directly, create-only, and ``promote`` has nothing to do; otherwise it goes to ``staging/{uuid}``
and is promoted by a server-side rewrite pinned to the staged generation, after which the
staging object is deleted. Reads stream one pinned generation (``GcsReader``). Both live in
``gcs_transfer``, with ``translate``, the one place provider errors become service errors.

Preconditions and retries (STYLE habit 8): every call that creates or deletes an object names a
generation: creates ``if_generation_match=0``, the rewrite also pins its source generation,
deletes pin the generation they read. That makes each one safe to repeat, so all of them, and
the reads, use the one retry policy ``self.retry`` (transient errors only, bounded by
``retry_deadline``); no call relies on the library's default policies, which retry some writes
that carry no precondition.

Signed URLs are V4 (``_signing_args``): signed with ``GCS_SIGNING_KEY_FILE`` when set (the local
emulator's endpoint when emulated), otherwise, as in Cloud Functions, through IAM signBlob with
the runtime account's email and a fresh access token.

fake-gcs-server 1.54 ignores ``ifGenerationMatch`` on rewrite, copy, delete and resumable
uploads, so ``promote`` also looks before it copies: that check is what makes promotion
create-only on the emulator, while on GCS the rewrite's precondition closes the race.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, urlsplit

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.cloud import storage
from google.oauth2 import service_account

from shared.config import Settings
from shared.download import content_disposition
from shared.errors import BackendUnavailable, BadRequest, ConfigError, Conflict, NotFound
from shared.storage.base import BlobStore, StagedBlob, check_key
from shared.storage.gcs_client import connect, emulator_url, retry_policy
from shared.storage.gcs_transfer import (
    STAGING_PREFIX,
    UPLOAD_ID,
    GcsReader,
    GcsStagedBlob,
    download_url,
    edge,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_SIGNED_TTL = 7 * 24 * 3600  # the V4 limit


class GcsBlobStore(BlobStore):
    """Objects in ``MEDIA_GCS_BUCKET_NAME`` under ``GCS_OBJECT_PREFIX``."""

    name = "gcs"
    scheme = "gcs"
    supports_signed_urls = True
    writes_in_place = True

    def __init__(self, settings: Settings, *, chunk_size: int = 8 * MiB, timeout: float = 60.0,
                 retry_deadline: float = 120.0) -> None:
        if not settings.media_gcs_bucket_name:
            raise ConfigError("MEDIA_GCS_BUCKET_NAME is required for the GCS blob store")
        self.prefix = settings.gcs_object_prefix.strip("/")
        if not self.prefix or f"{self.prefix}/".startswith(STAGING_PREFIX):
            raise ConfigError("GCS_OBJECT_PREFIX may not be empty or under staging/")
        if chunk_size <= 0 or chunk_size % (256 * 1024):
            raise ConfigError("the GCS chunk size must be a positive multiple of 256 KiB")
        self.settings = settings
        self.bucket_name = settings.media_gcs_bucket_name
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.retry = retry_policy(retry_deadline)
        self.emulator = emulator_url(settings.storage_emulator_host)
        self._lock = threading.Lock()
        self._client: storage.Client | None = None
        self._bucket: storage.Bucket | None = None
        self._session: AuthorizedSession | None = None
        self._credentials: Any = None
        self._signing_key: service_account.Credentials | None = None

    # -- clients, built on first use (cold starts) ----------------------------------------

    @property
    def client(self) -> storage.Client:
        """The storage client; anonymous against the emulator, default credentials otherwise."""
        with self._lock:
            if self._client is None:
                client, credentials = connect(self.settings.gcp_project, self.emulator)
                self._credentials = credentials
                self._session = AuthorizedSession(credentials)
                self._bucket = client.bucket(self.bucket_name)
                self._client = client
            return self._client

    @property
    def session(self) -> AuthorizedSession:
        """An authorized HTTP session for streaming downloads (same credentials as the client)."""
        if self._session is None:
            _ = self.client
        assert self._session is not None
        return self._session

    @property
    def bucket(self) -> storage.Bucket:
        """The bucket handle (no request is made to build it)."""
        if self._bucket is None:
            _ = self.client
        assert self._bucket is not None
        return self._bucket

    def retry_for(self, *, if_generation_match: int | None) -> Retry | None:
        """The retry policy for a write: only one that names a generation may be repeated."""
        return self.retry if if_generation_match is not None else None

    def object_name(self, key: str) -> str:
        """``{prefix}/{key}``."""
        return f"{self.prefix}/{check_key(key)}"

    # -- primitives -----------------------------------------------------------------------

    def stage(self, key: str | None = None) -> GcsStagedBlob:
        return GcsStagedBlob(self, self.object_name(key) if key else None)

    def promote(self, staged: StagedBlob, key: str) -> None:
        assert isinstance(staged, GcsStagedBlob)
        staged.close()
        assert staged.generation is not None
        name = self.object_name(key)
        if staged.name == name:  # written in place (create-only): nothing to copy
            staged.keep()
            return
        source = self.bucket.blob(staged.name, generation=staged.generation)
        self.copy_once(source, staged.generation, self.bucket.blob(name),
                       (UPLOAD_ID, staged.upload_id))  # the rewrite copies that metadata
        try:
            self.delete_generation(staged.name, staged.generation)
        except BackendUnavailable:  # the file is in place; sweep_staging removes the rest
            log.warning("promoted %s but could not delete %s", name, staged.name)
        staged.keep()

    def copy_once(self, source: storage.Blob, source_generation: int, target: storage.Blob,
                  marker: tuple[str, str]) -> None:
        """Rewrite ``source`` (that generation) to a new ``target``: create-only, repeatable.

        ``marker`` is the metadata (key, value) the target carries when a copy of this same
        source landed before: a retried copy meets it and counts as done; any other object
        there is a ``Conflict``. On GCS the preconditions close that race on their own;
        fake-gcs-server ignores them on rewrite, so the look before copying is its only guard.
        """
        key, value = marker

        def landed() -> bool:
            existing = target.bucket.get_blob(target.name, timeout=self.timeout,
                                              retry=self.retry)
            if existing is None:
                return False
            if (existing.metadata or {}).get(key) == value:
                return True
            raise Conflict("a blob already exists at that key")

        with edge():
            if landed():
                return
            try:
                token: str | None = None
                while True:
                    token, _, _ = target.rewrite(
                        source, token=token, if_generation_match=0,
                        if_source_generation_match=source_generation, timeout=self.timeout,
                        retry=self.retry_for(if_generation_match=0))
                    if token is None:
                        break
            except gexc.PreconditionFailed:
                if not landed():  # a retried rewrite whose first attempt landed
                    raise

    def open_read(self, key: str) -> BinaryIO:
        name = self.object_name(key)
        with edge():
            blob = self.bucket.get_blob(name, timeout=self.timeout, retry=self.retry)
        if blob is None:
            raise NotFound("blob not found")
        url = download_url(self.client.api_endpoint, self.bucket_name, name, blob.generation)
        return cast(BinaryIO, GcsReader(self, url, blob.size or 0, blob.crc32c))

    def delete(self, key: str) -> bool:
        name = self.object_name(key)
        with edge():
            blob = self.bucket.get_blob(name, timeout=self.timeout, retry=self.retry)
        if blob is None:
            return False
        return self.delete_generation(name, blob.generation)

    def delete_generation(self, name: str, generation: int | None, retry: bool = True) -> bool:
        """Delete exactly this generation of an object; False when it was already gone."""
        assert generation is not None, "deletes are pinned to a generation"
        with edge():
            try:
                self.bucket.blob(name).delete(
                    if_generation_match=generation, timeout=self.timeout,
                    retry=self.retry_for(if_generation_match=generation) if retry else None)
            except gexc.NotFound:
                return False
        return True

    def exists(self, key: str) -> bool:
        with edge():
            return bool(self.bucket.blob(self.object_name(key)).exists(
                timeout=self.timeout, retry=self.retry))

    def sweep_staging(self, older_than_seconds: float) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        removed = 0
        with edge():
            stale = [(blob.name, blob.generation) for blob in self.client.list_blobs(
                self.bucket_name, prefix=STAGING_PREFIX, timeout=self.timeout,
                retry=self.retry) if blob.time_created is not None
                and blob.time_created < cutoff]
        for name, generation in stale:
            removed += self.delete_generation(name, generation)
        return removed

    def storage_path(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket_name}/{self.object_name(key)}"

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "bucket": self.bucket_name, "prefix": self.prefix}

    # -- signed URLs ----------------------------------------------------------------------

    def signed_download_url(self, key: str, filename: str, mime_type: str,
                            ttl_seconds: int) -> tuple[str, int]:
        url = self._sign(key, ttl_seconds, method="GET",
                         response_disposition=content_disposition(filename, inline=False),
                         response_type=mime_type or "application/octet-stream")
        return url, _expiry(url)

    def signed_upload_url(self, key: str, content_type: str, size_bytes: int,
                          ttl_seconds: int) -> tuple[str, dict[str, str], int]:
        if not content_type or size_bytes < 0:
            raise BadRequest("a signed upload needs a content type and a size")
        return self.signed_put(self.bucket_name, self.object_name(key), content_type,
                               size_bytes, ttl_seconds)

    def signed_put(self, bucket: str, name: str, content_type: str, size_bytes: int,
                   ttl_seconds: int) -> tuple[str, dict[str, str], int]:
        """``signed_upload_url`` for any bucket and object name."""
        conditions = {"x-goog-content-length-range": f"{size_bytes},{size_bytes}",
                      "x-goog-if-generation-match": "0"}
        url = self.sign_object(bucket, name, ttl_seconds, method="PUT",
                               content_type=content_type, headers=dict(conditions))
        return url, {"Content-Type": content_type, **conditions}, _expiry(url)

    def _sign(self, key: str, ttl_seconds: int, **kwargs: Any) -> str:
        return self.sign_object(self.bucket_name, self.object_name(key), ttl_seconds, **kwargs)

    def sign_object(self, bucket: str, name: str, ttl_seconds: int, **kwargs: Any) -> str:
        """A V4 signed URL for any object (direct uploads sign for the incoming bucket)."""
        if not 1 <= ttl_seconds <= MAX_SIGNED_TTL:
            raise BadRequest(f"a signed URL lives between 1 and {MAX_SIGNED_TTL} seconds")
        blob = self.client.bucket(bucket).blob(name)
        with edge():
            return str(blob.generate_signed_url(
                version="v4", expiration=timedelta(seconds=ttl_seconds),
                **self._signing_args(), **kwargs))

    def _signing_args(self) -> dict[str, Any]:
        """Credentials for V4 signing: the key file, or IAM signBlob with a fresh token."""
        settings = self.settings
        if settings.gcs_signing_key_file:
            with self._lock:
                if self._signing_key is None:
                    try:
                        self._signing_key = service_account.Credentials \
                            .from_service_account_file(settings.gcs_signing_key_file)
                    except (OSError, ValueError) as exc:
                        raise ConfigError("GCS_SIGNING_KEY_FILE is not a readable "
                                          "service-account key") from exc
            args: dict[str, Any] = {"credentials": self._signing_key}
            if self.emulator:
                args["api_access_endpoint"] = self.emulator
            return args
        if self.emulator:
            raise ConfigError("signing against the emulator needs GCS_SIGNING_KEY_FILE "
                              "(localdev/gcs_keys.py writes one)")
        _ = self.client  # the runtime credentials are built with the client
        credentials = self._credentials
        with self._lock:
            if not credentials.valid:  # the token is cached until it nears expiry
                credentials.refresh(AuthRequest())
            token = credentials.token
        email = settings.gcs_signing_service_account or getattr(
            credentials, "service_account_email", "")
        if not email or email == "default":
            raise ConfigError("set GCS_SIGNING_SERVICE_ACCOUNT to sign URLs with IAM")
        return {"service_account_email": email, "access_token": token}


def _expiry(url: str) -> int:
    """The Unix time a V4 URL stops working: ``X-Goog-Date`` + ``X-Goog-Expires``."""
    query = parse_qs(urlsplit(url).query)
    signed_at = datetime.strptime(query["X-Goog-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int(signed_at.timestamp()) + int(query["X-Goog-Expires"][0])

