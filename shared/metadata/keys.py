"""``KeyRole``: the workspace API keys and their rate-limit buckets, one of the store's roles.

Every instance reads a key from the store on each request (nothing is cached), so a revoke is
effective on the next request everywhere. The key's record is read-mostly: ``last_used_at``
is written at most once a minute (``touch_key``); the bucket, written on every request of a
rate-limited key, is a separate record, so the hot writes never contend with the reads.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from shared.models import ApiKey, Bucket, LogEntry

MAX_KEYS_PER_WORKSPACE = 100


class KeyRole(abc.ABC):
    """Workspace API keys: create, look up, list, revoke, touch, and take a token."""

    @abc.abstractmethod
    def create_key(self, key: ApiKey, entry: LogEntry) -> bool:
        """Store ``key`` and append ``entry`` to its workspace's log, in one transaction.

        False when ``key.id`` is taken (nothing changes; the caller draws another id).
        Raises ``Conflict`` when the workspace already holds ``MAX_KEYS_PER_WORKSPACE``
        keys (checked in the transaction on SQLite, just before it on Firestore).
        """

    @abc.abstractmethod
    def get_key(self, key_id: str) -> ApiKey | None:
        """The key, or None (never created, or revoked)."""

    @abc.abstractmethod
    def list_keys(self, workspace_id: str) -> list[ApiKey]:
        """The workspace's keys, oldest first."""

    @abc.abstractmethod
    def revoke_key(self, workspace_id: str, key_id: str, entry: LogEntry) -> ApiKey | None:
        """Delete the key and its bucket and append ``entry``, in one transaction; None
        (nothing changes) when the workspace has no such key."""

    @abc.abstractmethod
    def touch_key(self, key_id: str, used_at: str, stale_before: str) -> bool:
        """Set ``last_used_at`` to ``used_at`` unless it is already ``stale_before`` or
        later (so concurrent requests of one minute write it once). True when written;
        never recreates a revoked key."""

    @abc.abstractmethod
    def take_token(self, key_id: str, take: Callable[[Bucket | None], Bucket | None]) -> bool:
        """Atomically read the key's bucket (None before its first use), call ``take`` and
        store the bucket it returns. ``take`` answering None (no token left) writes nothing
        and makes this False. Serialized across processes; ``take`` may run more than once.
        """
