"""Bearer-token authentication: ``Authenticator`` turns an ``Authorization`` header into a
``Principal``.

Three modes (``AUTH_MODE``):
- ``firebase``: Firebase / Identity Platform ID tokens (Google's JWKS, issuer
  ``https://securetoken.google.com/<project>``, audience ``<project>``);
- ``jwks``: any issuer, given ``AUTH_JWKS_URL``, ``AUTH_ISSUER`` and ``AUTH_AUDIENCE``;
- ``dev``: HS256 tokens signed with ``AUTH_DEV_SECRET``, for local use only.
Under ``firebase``, while ``FIREBASE_AUTH_EMULATOR_HOST`` is set (``make dev``), the Firebase
Auth emulator's unsigned tokens (``alg: none``) are accepted instead, with the same issuer,
audience and time checks; on Cloud Run (``K_SERVICE`` set) that combination is refused.
The token's ``sub`` is the user id. PyJWT does all verification; nothing here parses JWTs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import jwt

from shared.config import Settings
from shared.errors import BackendUnavailable, ConfigError, Unauthorized

FIREBASE_JWKS_URL = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
MAX_SUB_CHARS = 128
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user id and the verified claims."""

    user_id: str
    claims: dict[str, Any]


class Authenticator:
    """Verifies bearer tokens for one configured mode."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.auth_mode
        self._secret = settings.auth_dev_secret
        if self.mode == "firebase":
            project = settings.firebase_project_id
            self._jwks_url = FIREBASE_JWKS_URL
            self._issuer = f"https://securetoken.google.com/{project}"
            self._audience = project
        else:
            self._jwks_url = settings.auth_jwks_url
            self._issuer = settings.auth_issuer
            self._audience = settings.auth_audience
        self._jwks: jwt.PyJWKClient | None = None
        self._emulator = self.mode == "firebase" and bool(
            os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"))
        if self._emulator and os.environ.get("K_SERVICE"):
            raise ConfigError("FIREBASE_AUTH_EMULATOR_HOST is for local use; it is refused on "
                              "Cloud Run")

    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self._jwks_url, cache_keys=True, lifespan=3600,
                                         timeout=10)
        return self._jwks

    def _key_set(self) -> None:
        """Fetch (or reuse the cached) key set: a broken issuer is an outage (503), not a
        caller's bad token (401), so that valid sessions are not ended by it."""
        try:
            self._jwks_client().get_signing_keys()
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, json.JSONDecodeError) as exc:
            raise BackendUnavailable("cannot get the token issuer's key set") from exc

    def authenticate(self, header: str | None) -> Principal:
        """The caller behind ``Authorization: Bearer <jwt>``; 401 when absent or invalid."""
        if not header:
            raise Unauthorized("missing Authorization header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        claims = self._verify(token.strip())
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS:
            raise Unauthorized("token has no valid 'sub' claim")
        return Principal(user_id=sub, claims=claims)

    def _verify(self, token: str) -> dict[str, Any]:
        options = {"require": ["sub", "exp", "iat"]}
        try:
            if self.mode == "dev":
                return jwt.decode(token, self._secret, algorithms=["HS256"], options=options,
                                  leeway=LEEWAY_SECONDS)
            header = jwt.get_unverified_header(token)  # malformed: a 401 even mid-outage
            if self._emulator:
                return self._emulator_claims(token, header, options)
            self._key_set()
            key = self._jwks_client().get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=ASYMMETRIC_ALGORITHMS,
                              audience=self._audience, issuer=self._issuer, options=options,
                              leeway=LEEWAY_SECONDS)
        except jwt.PyJWKClientConnectionError as exc:
            raise BackendUnavailable("cannot reach the token issuer's key set") from exc
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("invalid token") from exc

    def _emulator_claims(self, token: str, header: dict[str, Any],
                         options: dict[str, Any]) -> dict[str, Any]:
        """An Auth emulator token: unsigned (``alg: none``), every other claim checked."""
        if header.get("alg") != "none":
            raise jwt.InvalidAlgorithmError("the Auth emulator's tokens are unsigned")
        checks = {"verify_signature": False, "verify_exp": True, "verify_iat": True,
                  "verify_aud": True, "verify_iss": True}
        return jwt.decode(token, options={**options, **checks}, audience=self._audience,
                          issuer=self._issuer, leeway=LEEWAY_SECONDS)


def mint_dev_token(secret: str, sub: str, ttl_seconds: int = 86400, **claims: Any) -> str:
    """An HS256 token for ``AUTH_MODE=dev`` (README examples, tests, local tools)."""
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")
