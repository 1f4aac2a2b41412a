"""``Keys``: the workspace's API keys (``/api/assistant/workspace/keys``).

Creating a key needs a user's token (a key cannot create keys). The secret is in the answer
to ``create`` only; listings never carry it. Scopes: ``files:read``, ``files:write``,
``memory:read``, ``memory:write``, ``logs:read`` and ``media``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from workspace_client.models import ApiKey, CreatedKey
from workspace_client.transport import Transport

SCOPES = ("files:read", "files:write", "memory:read", "memory:write", "logs:read", "media")


class Keys:
    """API keys of one workspace (``ws.keys``)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def create(self, name: str, scopes: Sequence[str], *, expires_in_days: int | None = None,
               agent_id: str | None = None) -> CreatedKey:
        """A new key; keep ``.key``, it is shown this once."""
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        if agent_id is not None:
            body["agent_id"] = agent_id
        return CreatedKey.from_api(self.transport.json("POST", "/keys", json=body))

    def list(self) -> list[ApiKey]:
        """Every key of the workspace, without secrets, with ``last_used_at``."""
        data = self.transport.json("GET", "/keys")
        items = data.get("keys", []) if isinstance(data, dict) else data or []
        return [ApiKey.from_api(item) for item in items]

    def revoke(self, key_id: str) -> None:
        """Revoke a key; its next request, on any instance, is a 401."""
        self.transport.request("DELETE", self.transport.api(f"/keys/{quote(key_id)}"))
