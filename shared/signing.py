"""``UrlSigner``: short-lived HMAC-signed download URLs for the local blob store.

GCS has real V4 signed URLs; the embedded default needs the same capability, so a download
link can be handed to a browser or another agent without its bearer token. The signature
binds workspace, file, version and expiry, so it cannot be replayed for another file or
for a later version of the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from shared.errors import NotFound

KEY_FILE = ".signing_key"


def load_or_create_key(root: str | os.PathLike[str]) -> bytes:
    """A key shared by every process on one storage dir, created once with mode 0600."""
    path = Path(root) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            data = path.read_bytes()
            if len(data) == 64:
                return data
            time.sleep(0.01)
        raise
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    return path.read_bytes()


class UrlSigner:
    """Signs and checks ``(workspace, file, version, expires)``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, workspace_id: str, file_id: str, version: int, expires: int) -> str:
        msg = f"{workspace_id}\n{file_id}\n{version}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, workspace_id: str, file_id: str, version: int, ttl: int) -> tuple[str, int]:
        """The query string of a signed link, and its expiry (Unix seconds)."""
        expires = int(time.time()) + ttl
        query = urlencode({"ws": workspace_id, "v": version, "expires": expires,
                           "sig": self._mac(workspace_id, file_id, version, expires)})
        return query, expires

    def verify(self, workspace_id: str, file_id: str, version: str, expires: str,
               sig: str) -> int:
        """The signed version when the link is valid and unexpired; 404 otherwise."""
        try:
            version_n, expires_n = int(version), int(expires)
        except (TypeError, ValueError) as exc:
            raise NotFound("invalid or expired link") from exc
        good = self._mac(workspace_id, file_id, version_n, expires_n)
        given = (sig or "").encode("utf-8", "replace")
        if not hmac.compare_digest(good.encode(), given) or expires_n < time.time():
            raise NotFound("invalid or expired link")
        return version_n
