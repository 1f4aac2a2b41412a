"""``IdTokenVerifier``: who may call the ClamAV front (Google ID tokens of allowed accounts).

Cloud Run's own IAM check (``--no-allow-unauthenticated``) already rejects callers without
the invoker role; this is the second lock, in the app, so a mistaken IAM binding or a public
ingress does not open the scanner (and, through ``/scan/gcs``, read access to buckets) to
everyone. A caller must send ``Authorization: Bearer <ID token>`` whose signature verifies
against Google's certificates (``google.oauth2.id_token.verify_token``), whose audience is
this service's URL, whose issuer is Google, and whose verified ``email`` is on
``CLAMAV_FRONT_ALLOWED_INVOKERS``.

The certificates are fetched through ``_CachingRequest``, which keeps them for the
``max-age`` Google sends (capped), instead of once per request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import google.auth.exceptions
import jwt
from google.auth.transport import Response
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from shared.errors import BackendUnavailable, Unauthorized

log = logging.getLogger(__name__)

GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
_MAX_AGE = re.compile(r"max-age=(\d+)")
_DEFAULT_TTL, _MAX_TTL = 300.0, 3600.0


class _CachingRequest:
    """A google-auth transport that caches successful GETs of one URL (the certificates)."""

    def __init__(self, cached_url: str) -> None:
        self._inner = Request()
        self._url = cached_url
        self._lock = threading.Lock()
        self._response: Response | None = None
        self._expires = 0.0

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Response:
        if url != self._url or method != "GET":
            return self._inner(url, method=method, **kwargs)
        with self._lock:
            if self._response is None or time.monotonic() >= self._expires:
                response = self._inner(url, method=method, timeout=10, **kwargs)
                if response.status != 200:
                    return response  # not cached: the next request tries again
                match = _MAX_AGE.search(response.headers.get("cache-control", ""))
                ttl = min(float(match.group(1)), _MAX_TTL) if match else _DEFAULT_TTL
                self._response, self._expires = response, time.monotonic() + ttl
            return self._response


class IdTokenVerifier:
    """Checks a bearer ID token; ``verify`` returns the caller's email."""

    def __init__(self, audiences: tuple[str, ...], allowed_invokers: tuple[str, ...],
                 certs_url: str) -> None:
        self.audiences = list(audiences)
        self.allowed = frozenset(email.lower() for email in allowed_invokers)
        self.certs_url = certs_url
        self._request = _CachingRequest(certs_url)

    def verify(self, authorization: str | None) -> str:
        """The verified caller email; 401 for a missing or bad token, or a caller not allowed.

        One status for both (no 403): the API's error table has no 403 anywhere else, and
        the caller, ``HttpScanner``, treats both the same way (a misconfigured deployment).
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer ID token")
        try:
            claims = id_token.verify_token(token.strip(), self._request,
                                           audience=self.audiences, certs_url=self.certs_url,
                                           clock_skew_in_seconds=10)
        except google.auth.exceptions.TransportError as exc:
            log.error("could not fetch the ID-token certificates: %s", exc)
            raise BackendUnavailable("cannot verify ID tokens right now") from exc
        except (ValueError, google.auth.exceptions.GoogleAuthError, jwt.PyJWTError) as exc:
            raise Unauthorized("invalid ID token") from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthorized("invalid ID token")
        email = str(claims.get("email") or "").lower()
        if not email or claims.get("email_verified") is not True:
            raise Unauthorized("the ID token carries no verified email")
        if email not in self.allowed:
            log.warning("refused a scan request from %s (not an allowed invoker)", email)
            raise Unauthorized("this caller may not use the scanner")
        return email
