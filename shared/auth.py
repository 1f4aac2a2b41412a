"""Bearer-token authentication: ``Authenticator`` turns an ``Authorization`` header into a
``Principal``.

Three modes (``AUTH_MODE``):
- ``firebase``: Firebase / Identity Platform ID tokens (Google's JWKS, issuer
  ``https://securetoken.google.com/<project>``, audience ``<project>``);
- ``jwks``: any issuer, given ``AUTH_JWKS_URL``, ``AUTH_ISSUER`` and ``AUTH_AUDIENCE``;
- ``dev``: HS256 tokens signed with ``AUTH_DEV_SECRET``, for local use only.
Under ``firebase``, while ``FIREBASE_AUTH_EMULATOR_HOST`` is set (``make dev``), the Firebase
Auth emulator's unsigned tokens (``alg: none``) are accepted instead, with the same issuer,
audience and time checks; on Cloud Run that setting is refused (``Settings.check``).
Under ``firebase``, while ``FIREBASE_AUTH_EMULATOR_HOST`` is set (``make dev``), the Firebase
Auth emulator's unsigned tokens (``alg: none``) are accepted instead, with the same issuer,
audience and time checks; on Cloud Run (``K_SERVICE`` set) that combination is refused.
The token's ``sub`` is the user id. PyJWT does all verification; nothing here parses JWTs.
Workspace API keys (``wsk_...``) are told apart and checked by ``shared.apikeys``.
``shared.jwks.KeySet`` fetches and caches the issuer's keys with a bounded wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from shared.config import Settings
from shared.errors import Unauthorized
from shared.jwks import ASYMMETRIC_ALGORITHMS, KeySet

FIREBASE_JWKS_URL = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)
MAX_SUB_CHARS = 128
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user id and the verified claims; for a workspace API key
    (``shared.apikeys``), the key's id, its scopes and its default agent instead of claims."""

    user_id: str
    claims: dict[str, Any]
    key_id: str | None = None
    scopes: frozenset[str] = frozenset()
    agent_id: str | None = None


class Authenticator:
    """Verifies bearer tokens for one configured mode."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.auth_mode
        self._secret = settings.auth_dev_secret
        if self.mode == "firebase":
            project = settings.firebase_project_id
            url = settings.auth_jwks_url or FIREBASE_JWKS_URL
            self._issuer = f"https://securetoken.google.com/{project}"
            self._audience = project
        else:
            url = settings.auth_jwks_url
            self._issuer = settings.auth_issuer
            self._audience = settings.auth_audience
        self.keys = KeySet(url, timeout=settings.auth_jwks_timeout_seconds)
        self._emulator = self.mode == "firebase" and bool(settings.firebase_auth_emulator_host)

    def authenticate(self, header: str | None) -> Principal:
        """The caller behind ``Authorization: Bearer <jwt>``; 401 when absent or invalid,
        503 when the issuer's key set cannot be had for a token that could be valid."""
        return self.verify(bearer_token(header))

    def verify(self, token: str) -> Principal:
        """The user a JWT names (see ``authenticate``)."""
        claims = self._verify(token)
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
            if self._emulator:
                claims = self._emulator_claims(token, jwt.get_unverified_header(token), options)
            else:
                key = self._key_for(token)
                # The PyJWK itself, not its raw key: PyJWT then refuses a header ``alg`` that
                # is not the key's own (an ES256 header on an RSA key was a TypeError: a 500).
                claims = jwt.decode(token, key, algorithms=[key.algorithm_name],
                                    audience=self._audience, issuer=self._issuer,
                                    options=options, leeway=LEEWAY_SECONDS)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("invalid token") from exc
        if self.mode == "firebase":
            _check_auth_time(claims)
        return claims

    def _key_for(self, token: str) -> jwt.PyJWK:
        """The issuer's key the token names. Checked before any fetch, so a token that could
        never be valid is a 401 even while the issuer is down: a malformed token, an
        algorithm other than the asymmetric ones, no ``kid`` (never guessed among keys)."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
            raise Unauthorized("token algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token has no key id ('kid')")
        return self.keys.key(kid)

    def _emulator_claims(self, token: str, header: dict[str, Any],
                         options: dict[str, Any]) -> dict[str, Any]:
        """An Auth emulator token: unsigned (``alg: none``), every other claim checked."""
        if header.get("alg") != "none":
            raise jwt.InvalidAlgorithmError("the Auth emulator's tokens are unsigned")
        checks = {"verify_signature": False, "verify_exp": True, "verify_iat": True,
                  "verify_aud": True, "verify_iss": True}
        return jwt.decode(token, options={**options, **checks}, audience=self._audience,
                          issuer=self._issuer, leeway=LEEWAY_SECONDS)


def bearer_token(header: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent or malformed."""
    if not header:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


def _check_auth_time(claims: dict[str, Any]) -> None:
    """Firebase ID tokens carry ``auth_time``, which must be in the past."""
    auth_time = claims.get("auth_time")
    if (not isinstance(auth_time, int) or isinstance(auth_time, bool)
            or auth_time > time.time() + LEEWAY_SECONDS):
        raise Unauthorized("token has no valid 'auth_time' claim")


def mint_dev_token(secret: str, sub: str, ttl_seconds: int = 86400, **claims: Any) -> str:
    """An HS256 token for ``AUTH_MODE=dev`` (README examples, tests, local tools)."""
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")
