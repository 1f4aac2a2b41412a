"""``GcsConnection``: the one lazily built connection to GCS (client, session, retry, timeout).

Every GCS user in a process (the files store, the direct-upload landing zone, media
``gcs://`` inputs, the ClamAV front) talks to GCS (or fake-gcs-server) through one of these:
anonymous credentials and an explicit endpoint against ``STORAGE_EMULATOR_HOST``, application
default credentials otherwise; one ``AuthorizedSession`` beside the client for the streamed
transfers the client library would buffer; one retry policy for transient errors only; one
timeout. Nothing is built until first use (cold starts).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import google.auth
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage

from shared.storage.gcs.errors import edge, is_transient

READ_WRITE = ("https://www.googleapis.com/auth/cloud-platform",)
READ_ONLY = ("https://www.googleapis.com/auth/devstorage.read_only",)


class GcsSettings(Protocol):
    """What a connection needs; both ``Settings`` and ``FrontSettings`` provide it."""

    gcp_project: str
    storage_emulator_host: str
    gcs_timeout_seconds: int
    gcs_retry_deadline_seconds: int


def emulator_url(host: str) -> str:
    """``STORAGE_EMULATOR_HOST`` as a URL (it may be given as ``host:port``); "" when unset."""
    return host if not host or "://" in host else f"http://{host}"


def retry_policy(deadline: float) -> Retry:
    """Transient errors only (``is_transient``), backing off up to ``deadline`` seconds."""
    return Retry(predicate=is_transient, initial=min(0.25, deadline / 4), maximum=8.0,
                 multiplier=2.0, timeout=deadline)


class GcsConnection:
    """A storage client, its credentials and an authorized session, built on first use."""

    def __init__(self, project: str, emulator: str = "", *, timeout: float = 60.0,
                 retry_deadline: float = 30.0, scopes: tuple[str, ...] = READ_WRITE) -> None:
        self.project = project
        self.emulator = emulator_url(emulator)
        self.timeout = float(timeout)
        self.retry = retry_policy(float(retry_deadline))
        self.scopes = scopes
        self._lock = threading.Lock()
        self._client: storage.Client | None = None
        self._session: AuthorizedSession | None = None
        self._credentials: Any = None

    @classmethod
    def from_settings(cls, settings: GcsSettings,
                      scopes: tuple[str, ...] = READ_WRITE) -> GcsConnection:
        """A connection configured from settings (nothing connects yet)."""
        return cls(settings.gcp_project, settings.storage_emulator_host,
                   timeout=settings.gcs_timeout_seconds,
                   retry_deadline=settings.gcs_retry_deadline_seconds, scopes=scopes)

    def _build(self) -> None:
        with edge():
            if self.emulator:
                credentials: Any = AnonymousCredentials()
                options = {"api_endpoint": self.emulator}
            else:
                credentials, _ = google.auth.default(scopes=self.scopes)
                options = {}
            client = storage.Client(project=self.project, credentials=credentials,
                                    client_options=options)
        self._credentials = credentials
        self._session = AuthorizedSession(credentials)
        self._client = client

    @property
    def client(self) -> storage.Client:
        """The storage client."""
        with self._lock:
            if self._client is None:
                self._build()
            assert self._client is not None
            return self._client

    @property
    def session(self) -> AuthorizedSession:
        """An authorized HTTP session for streamed uploads and downloads."""
        _ = self.client
        assert self._session is not None
        return self._session

    @property
    def credentials(self) -> Any:
        """The runtime credentials (IAM signing uses their email and token)."""
        _ = self.client
        return self._credentials

    @property
    def endpoint(self) -> str:
        """The JSON API's base URL (the emulator's when emulated)."""
        return str(self.client.api_endpoint)

    def retry_for(self, *, if_generation_match: int | None) -> Retry | None:
        """The retry policy for a write: only one that names a generation may be repeated."""
        return self.retry if if_generation_match is not None else None
