"""``Credentials``: one bearer header, either a user's JWT or a workspace API key.

A token that starts with ``wsk_`` is an API key (``KeyService.authenticate``); anything
else is a JWT for the configured ``AUTH_MODE`` (``shared.auth.Authenticator``). The two
never overlap: a JWT starts with its base64url header (``eyJ``).
"""

from __future__ import annotations

from shared.apikeys.secret import looks_like_key
from shared.apikeys.service import KeyService
from shared.auth import Authenticator, Principal, bearer_token


class Credentials:
    """Authenticates ``Authorization: Bearer ...`` for every non-public route."""

    def __init__(self, jwt: Authenticator, keys: KeyService) -> None:
        self.jwt = jwt
        self.keys = keys

    def authenticate(self, header: str | None) -> Principal:
        """The caller; 401 when absent or invalid, 429 for a key over its rate, 503 when
        the issuer's key set or the metadata store cannot be reached."""
        token = bearer_token(header)
        if looks_like_key(token):
            return self.keys.authenticate(token)
        return self.jwt.verify(token)
