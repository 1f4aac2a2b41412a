"""``RequestContext``: who is acting (user, agent, task) and in which session.

Built once per request from the verified principal and the attribution headers
(``X-Agent-Id``, ``X-Task-Id``, ``X-Session-Id``), then passed to every service call, so log
entries always carry the agent and task when the caller gave them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.validation import check_actor_id, check_session_id


@dataclass(frozen=True)
class RequestContext:
    """The caller and its attribution."""

    user_id: str
    agent_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None

    @classmethod
    def from_headers(cls, user_id: str, headers: Mapping[str, str]) -> RequestContext:
        """Read and validate the attribution headers (400 when malformed)."""
        session = headers.get("X-Session-Id") or None
        return cls(
            user_id=user_id,
            agent_id=check_actor_id(headers.get("X-Agent-Id"), "X-Agent-Id"),
            task_id=check_actor_id(headers.get("X-Task-Id"), "X-Task-Id"),
            session_id=check_session_id(session) if session else None,
        )
