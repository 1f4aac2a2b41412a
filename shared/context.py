"""``RequestContext``: who is acting (user, agent, task) and in which session.

Built once per request from the verified principal and the attribution headers
(``X-Agent-Id``, ``X-Task-Id``, ``X-Session-Id``), then passed to every service call, so log
entries always carry the agent and task when the caller gave them. A request made with a
workspace API key carries the key's id and scopes; the key's ``agent_id`` is the agent when
the request names none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.validation import check_actor_id, check_session_id


@dataclass(frozen=True)
class RequestContext:
    """The caller and its attribution."""

    user_id: str
    agent_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None
    key_id: str | None = None  # the API key the request came with; None for a user's token
    scopes: frozenset[str] = field(default_factory=frozenset)  # the key's scopes

    @classmethod
    def from_headers(cls, user_id: str, headers: Mapping[str, str], *,
                     key_id: str | None = None, scopes: frozenset[str] = frozenset(),
                     default_agent: str | None = None) -> RequestContext:
        """Read and validate the attribution headers (400 when malformed)."""
        session = headers.get("X-Session-Id") or None
        return cls(
            user_id=user_id,
            agent_id=check_actor_id(headers.get("X-Agent-Id"), "X-Agent-Id") or default_agent,
            task_id=check_actor_id(headers.get("X-Task-Id"), "X-Task-Id"),
            session_id=check_session_id(session) if session else None,
            key_id=key_id,
            scopes=scopes,
        )

    def log_details(self, details: dict[str, object]) -> dict[str, object]:
        """A log entry's details, naming the API key when the request came with one."""
        return {**details, "api_key": self.key_id} if self.key_id else details
