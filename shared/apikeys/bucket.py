"""``TokenBucket``: the arithmetic of a key's rate limit (the store keeps the state).

Capacity is one minute's worth (``API_KEY_RATE_PER_MINUTE``) and tokens come back
continuously, so a key may burst up to its rate and then runs at it. Each request takes a
token; without one it gets a 429 whose ``Retry-After`` is the whole seconds until the next
token. The state (``Bucket``) lives in the metadata store, read-modified-written under its
transaction (``take_token``), so every process of a deployment meters the same bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.models import Bucket


@dataclass(frozen=True)
class TokenBucket:
    """``rate_per_minute`` tokens a minute, at most that many banked."""

    rate_per_minute: int

    @property
    def capacity(self) -> float:
        """The most tokens a bucket holds: one minute's worth."""
        return float(self.rate_per_minute)

    def level(self, state: Bucket | None, now: float) -> float:
        """Tokens available at ``now`` (a fresh bucket is full)."""
        if state is None:
            return self.capacity
        elapsed = max(0.0, now - state.at)  # a clock that stepped back refills nothing
        return min(self.capacity, state.tokens + elapsed * self.rate_per_minute / 60.0)

    def take(self, state: Bucket | None, now: float) -> Bucket | None:
        """The bucket with one token taken, or None when there is none to take."""
        tokens = self.level(state, now)
        return Bucket(tokens - 1.0, now) if tokens >= 1.0 else None

    def wait(self, state: Bucket | None, now: float) -> int:
        """Whole seconds until a token is available (at least 1 once empty)."""
        missing = 1.0 - self.level(state, now)
        return max(1, math.ceil(missing * 60.0 / self.rate_per_minute))
