"""``connect`` and ``retry_policy``: how every GCS user in the service builds its client.

The files store, the scanner's object reader and the media ``gcs://`` source all talk to GCS
(or fake-gcs-server) the same way: anonymous credentials and an explicit endpoint against
``STORAGE_EMULATOR_HOST``, application default credentials otherwise, provider errors
translated at the edge, and one retry policy for transient errors only. One place builds
that, so the three cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import google.auth
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from shared.storage.gcs_transfer import edge, is_transient

READ_WRITE = ("https://www.googleapis.com/auth/cloud-platform",)
READ_ONLY = ("https://www.googleapis.com/auth/devstorage.read_only",)


def emulator_url(host: str) -> str:
    """``STORAGE_EMULATOR_HOST`` as a URL (it may be given as ``host:port``); "" when unset."""
    return host if not host or "://" in host else f"http://{host}"


def connect(project: str, emulator: str,
            scopes: tuple[str, ...] = READ_WRITE) -> tuple[storage.Client, Any]:
    """A storage client and its credentials (for an ``AuthorizedSession`` beside it)."""
    with edge():
        if emulator:
            credentials: Any = AnonymousCredentials()
            options = {"api_endpoint": emulator_url(emulator)}
        else:
            credentials, _ = google.auth.default(scopes=scopes)
            options = {}
        client = storage.Client(project=project, credentials=credentials,
                                client_options=options)
    return client, credentials


def retry_policy(deadline: float) -> Retry:
    """Transient errors only (``is_transient``), backing off up to ``deadline`` seconds."""
    return Retry(predicate=is_transient, initial=min(0.25, deadline / 4), maximum=8.0,
                 multiplier=2.0, timeout=deadline)
