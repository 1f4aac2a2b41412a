"""``KeySet``: a token issuer's public signing keys (its JWKS), fetched with a bounded wait.

Why not ``jwt.PyJWKClient`` alone: it holds one lock across the HTTP fetch, so with an
issuer that hangs, every request queues behind that lock for the full timeout, one after
the other; and its per-key cache never expires, so a key the issuer withdrew stays trusted.
PyJWKClient still does the fetching and parsing here (http(s) only, no redirects); this
class decides when to fetch and how long anyone waits:

- A request never waits longer than ``timeout`` for the issuer: the fetch runs in a helper
  thread that is abandoned when late, and requests queued behind a fetch wait for it at
  most that long.
- After a fetch that timed out, the issuer is not asked again for ``retry_after`` seconds:
  those requests fail at once (503) instead of each waiting for the hung issuer.
- The set is kept for ``lifespan``. A ``kid`` that is not in it triggers one refetch (the
  issuer rotated its keys), and at most one per ``unknown_kid_cooldown``: made-up ``kid``s
  never turn into one fetch per request. Requests for an unknown ``kid`` that arrive while
  that refetch runs wait for it (it may bring their key) instead of failing at once.
- A stale set keeps serving the keys it has while a refresh runs or fails (up to
  ``max_stale``), so an issuer outage does not end valid sessions. Without a usable set the
  answer is ``BackendUnavailable`` (503), never ``Unauthorized``: an outage is not the
  caller's fault.
- Only asymmetric signing keys with a ``kid`` are kept: a symmetric (``oct``) key in a
  JWKS would let anyone who read the key set sign tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from shared.errors import BackendUnavailable, Unauthorized

log = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class _Snapshot:
    """One fetched key set and when it was fetched (monotonic seconds)."""

    keys: dict[str, jwt.PyJWK]
    fetched_at: float = field(default_factory=time.monotonic)

    def age(self) -> float:
        return time.monotonic() - self.fetched_at


class KeySet:
    """The signing keys behind one JWKS URL, looked up by ``kid``."""

    def __init__(self, url: str, timeout: float = 5.0, lifespan: float = 3600.0,
                 retry_after: float = 5.0, unknown_kid_cooldown: float = 30.0,
                 max_stale: float = 86400.0) -> None:
        self.url, self.timeout, self.lifespan = url, timeout, lifespan
        self.retry_after, self.unknown_kid_cooldown = retry_after, unknown_kid_cooldown
        self.max_stale = max_stale
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._timed_out_at = float("-inf")
        self._refetched_at = float("-inf")

    def key(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``: ``Unauthorized`` when the issuer has no such key,
        ``BackendUnavailable`` when its key set cannot be had."""
        seen = self._snapshot
        if seen is not None and seen.age() < self.lifespan:
            if kid in seen.keys:
                return seen.keys[kid]
            if time.monotonic() - self._refetched_at < self.unknown_kid_cooldown:
                if not self._lock.locked():
                    raise Unauthorized("the token's key id is not one of the issuer's keys")
                # The refetch this cooldown stands for is still running: the issuer may be
                # rotating to this very key, so wait for that fetch (bounded; never a fetch
                # of its own) and look again.
                if not self._lock.acquire(timeout=self.timeout):
                    raise BackendUnavailable("the token issuer's key set is slow to answer")
                self._lock.release()
                current = self._snapshot
                if current is None or kid not in current.keys:
                    raise Unauthorized("the token's key id is not one of the issuer's keys")
                return current.keys[kid]
            self._refetched_at = time.monotonic()
        known_stale = seen is not None and kid in seen.keys
        try:
            current = self._refresh(seen, wait=not known_stale)
        except BackendUnavailable:
            if seen is not None and kid in seen.keys and seen.age() < self.max_stale:
                log.warning("serving the issuer's cached key set: it cannot be refreshed")
                return seen.keys[kid]
            raise
        if kid not in current.keys:
            raise Unauthorized("the token's key id is not one of the issuer's keys")
        return current.keys[kid]

    def _refresh(self, seen: _Snapshot | None, wait: bool) -> _Snapshot:
        """A set newer than ``seen``: fetched here, or by whoever held the lock meanwhile."""
        if not self._lock.acquire(timeout=self.timeout if wait else 0):
            if seen is not None and not wait:
                return seen  # someone else is refreshing; the stale set serves meanwhile
            raise BackendUnavailable("the token issuer's key set is slow to answer")
        try:
            current = self._snapshot
            if current is not None and current is not seen:
                return current
            if time.monotonic() - self._timed_out_at < self.retry_after:
                raise BackendUnavailable("the token issuer's key set did not answer in time")
            self._snapshot = _Snapshot(self._fetch())
            return self._snapshot
        finally:
            self._lock.release()

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        """Fetch and parse the set in a helper thread, waiting at most ``timeout``."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                client = jwt.PyJWKClient(self.url, cache_jwk_set=False, timeout=self.timeout)
                outcome["keys"] = client.get_jwk_set().keys
            except (jwt.PyJWTError, ValueError, OSError) as exc:  # JSONDecodeError is a ValueError
                outcome["error"] = exc

        fetcher = threading.Thread(target=run, name="jwks-fetch", daemon=True)
        fetcher.start()
        fetcher.join(self.timeout)
        if fetcher.is_alive() or _timed_out(outcome.get("error")):
            self._timed_out_at = time.monotonic()
            raise BackendUnavailable("the token issuer's key set did not answer in time")
        if "error" in outcome:
            log.warning("cannot get the token issuer's key set: %s", outcome["error"])
            raise BackendUnavailable("cannot get the token issuer's key set") \
                from outcome["error"]
        keys = {key.key_id: key for key in outcome["keys"]
                if key.key_id and key.public_key_use in {"sig", None}
                and key.algorithm_name in ASYMMETRIC_ALGORITHMS}
        if not keys:
            raise BackendUnavailable("the token issuer's key set has no usable signing key")
        return keys


def _timed_out(error: object) -> bool:
    """Whether a failed fetch ended on a timeout (urllib wraps it in URLError)."""
    for _ in range(8):
        if not isinstance(error, BaseException):
            return False
        if isinstance(error, TimeoutError):
            return True
        error = getattr(error, "reason", None) or error.__cause__
    return False

