"""``RetryPolicy``: when a failed request is tried again, and how long to wait first.

One policy for every call (STYLE habit 8). A request is retried only when repeating it is
safe: its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS), or it carries a precondition
(``If-Match``, ``x-goog-if-generation-match``) so that a repeat cannot apply twice. Then a 429,
a 503 or a connection error is retried with capped, jittered exponential backoff, and a
``Retry-After`` from the server is honoured (up to ``max_retry_after``: a longer wait is
raised to the caller as ``RateLimited`` / ``Unavailable`` instead of blocking).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
PRECONDITION_HEADERS = ("if-match", "if-none-match", "if-unmodified-since",
                        "x-goog-if-generation-match")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; ``RetryPolicy(attempts=1)`` never retries."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = frozenset({429, 503})

    def may_retry(self, method: str, headers: Mapping[str, str]) -> bool:
        """True when repeating this request cannot apply it twice."""
        if method.upper() in IDEMPOTENT_METHODS:
            return True
        names = {name.lower() for name in headers}
        return any(name in names for name in PRECONDITION_HEADERS)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before try ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return retry_after + random.uniform(0, min(1.0, retry_after * 0.1))
        ceiling = min(self.max_backoff, self.backoff * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(attempts=1)
