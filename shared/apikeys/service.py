"""``KeyService``: creating, listing and revoking workspace API keys, and authenticating them.

A key acts as its owner (``user_id``) on the owner's workspace, limited to its scopes; its
``agent_id`` is the request's agent when the request names none. Nothing about a key is
cached: each request reads the key's record, so a revoke or an expiry is effective on the
next request on every instance. Creation and revocation are logged (``resource_type: key``)
in the same transaction as the change; the secret and its hash never reach a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.apikeys import secret
from shared.apikeys.bucket import TokenBucket
from shared.auth import Principal
from shared.context import RequestContext
from shared.errors import BackendUnavailable, BadRequest, NotFound, TooManyRequests, Unauthorized
from shared.metadata.base import MetadataStore, new_log_id
from shared.models import ApiKey, Bucket, LogEntry
from shared.scopes import SCOPES
from shared.timeutil import plus_seconds, utcnow
from shared.validation import check_actor_id, check_label

CREATE_FIELDS = {"name", "scopes", "expires_in_days", "agent_id"}
MAX_NAME_CHARS = 100
MAX_EXPIRES_IN_DAYS = 3650
TOUCH_EVERY_SECONDS = 60
ID_ATTEMPTS = 5


@dataclass(frozen=True)
class KeyRequest:
    """A checked ``POST /keys`` body."""

    name: str
    scopes: tuple[str, ...]
    expires_in_days: int | None
    agent_id: str | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> KeyRequest:
        """400 for a missing or malformed field (unknown fields were refused already)."""
        if "name" not in body:
            raise BadRequest("'name' is required")
        name = check_label(body["name"], "name", MAX_NAME_CHARS)
        scopes = body.get("scopes")
        if not isinstance(scopes, list) or not scopes:
            raise BadRequest(f"'scopes' must be a non-empty list among: {', '.join(SCOPES)}")
        for scope in scopes:
            if not isinstance(scope, str) or scope not in SCOPES:
                raise BadRequest(f"unknown scope {scope!r}; scopes are: {', '.join(SCOPES)}")
        if len(set(scopes)) != len(scopes):
            raise BadRequest("'scopes' lists a scope twice")
        days = body.get("expires_in_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                                 or not 1 <= days <= MAX_EXPIRES_IN_DAYS):
            raise BadRequest(f"'expires_in_days' must be an integer from 1 to "
                             f"{MAX_EXPIRES_IN_DAYS}")
        agent = body.get("agent_id")
        if agent is not None and not isinstance(agent, str):
            raise BadRequest("'agent_id' must be a string")
        return cls(name, tuple(scopes), days, check_actor_id(agent, "agent_id"))


class KeyService:
    """API keys over one metadata store; ``rate_per_minute`` 0 means no rate limit."""

    def __init__(self, meta: MetadataStore, rate_per_minute: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.bucket = TokenBucket(rate_per_minute) if rate_per_minute > 0 else None
        self.clock = clock

    # -- management (a user's token; the router refuses keys) ---------------------------
    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """A new key: its record's JSON plus the secret ``key``, shown this once."""
        asked = KeyRequest.parse(body)
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        now = utcnow()
        expires = plus_seconds(now, asked.expires_in_days * 86400) \
            if asked.expires_in_days else None
        for _ in range(ID_ATTEMPTS):  # a taken id (2^51 of them) is only ever bad luck
            key_id, key = secret.new_key()
            record = ApiKey(key_id, ws.id, ctx.user_id, asked.name, secret.digest(key),
                            asked.scopes, asked.agent_id, now, expires)
            if self.meta.create_key(record, self._entry(ctx, "create", record)):
                return {**record.to_api(), "key": key}
        raise BackendUnavailable("could not draw an unused key id; try again")

    def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """The workspace's keys, oldest first, without secrets."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        return [key.to_api() for key in self.meta.list_keys(ws.id)]

    def revoke(self, ctx: RequestContext, key_id: str) -> dict[str, Any]:
        """Delete a key (404 when the workspace has none by that id); answers the key."""
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        known = self.meta.get_key(key_id) if key_id.startswith("key_") else None
        if known is None or known.workspace_id != ws.id:
            raise NotFound("no such API key")
        revoked = self.meta.revoke_key(ws.id, key_id, self._entry(ctx, "delete", known))
        if revoked is None:  # revoked by a concurrent request
            raise NotFound("no such API key")
        return revoked.to_api()

    @staticmethod
    def _entry(ctx: RequestContext, op: str, key: ApiKey) -> LogEntry:
        details = {"name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
                   "agent_id": key.agent_id, "expires_at": key.expires_at}
        return LogEntry(new_log_id(), utcnow(), op, "key", key.id, details, ctx.agent_id,
                        ctx.task_id, ctx.session_id)

    # -- use -------------------------------------------------------------------------------
    def authenticate(self, presented: str) -> Principal:
        """The owner behind a presented key, limited to its scopes: 401 when it is
        malformed, unknown, revoked or expired; 429 when it is over its rate."""
        key_id = secret.key_id_of(presented)
        key = self.meta.get_key(key_id) if key_id else None
        if key is None or not secret.matches(presented, key.secret_hash):
            raise Unauthorized("invalid or revoked API key")
        now = utcnow()
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthorized("the API key has expired")
        self._spend(key)
        if key.last_used_at is None or key.last_used_at < plus_seconds(now, -TOUCH_EVERY_SECONDS):
            self.meta.touch_key(key.id, now, plus_seconds(now, -TOUCH_EVERY_SECONDS))
        return Principal(user_id=key.user_id, claims={}, key_id=key.id,
                         scopes=frozenset(key.scopes), agent_id=key.agent_id)

    def _spend(self, key: ApiKey) -> None:
        """Take a token from the key's bucket, shared by every process; 429 without one."""
        bucket = self.bucket
        if bucket is None:
            return
        now = self.clock()
        wait = 0

        def take(state: Bucket | None) -> Bucket | None:
            nonlocal wait
            taken = bucket.take(state, now)
            wait = 0 if taken is not None else bucket.wait(state, now)
            return taken

        if not self.meta.take_token(key.id, take):
            raise TooManyRequests(f"this API key is over its rate of "
                                  f"{bucket.rate_per_minute} requests a minute; retry in "
                                  f"{wait} s", retry_after=wait)
