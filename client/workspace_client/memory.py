"""``Memory``: the workspace's global Markdown memory, its versions and reverts.

Writes are optimistic: ``set`` and ``revert`` take an ``expected_version`` (sent as
``If-Match``), and ``append`` always sends the version it last saw (0 at first) and, on a 409,
tries again on the version the server names. Because every write carries that precondition,
the retry policy may repeat it after a 503 or a dropped connection: the repeated request
cannot apply twice. One case stays ambiguous: an append whose answer was lost after it was
applied meets a 409 on its repeat, and ``append`` (which cannot tell that 409 from a
concurrent writer's) then appends once more.
"""

from __future__ import annotations

import random
import time
from typing import Any

from workspace_client.errors import VersionConflict
from workspace_client.models import MemoryDocument, MemoryVersion, MemoryWrite
from workspace_client.transport import Transport

OVERFLOW = ("truncate", "reject", "drop_oldest")


class Memory:
    """The global memory of one workspace (``ws.memory``)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._version: int | None = None

    def get(self) -> MemoryDocument:
        """The memory, its usage and its version (0 before the first write)."""
        document = MemoryDocument.from_api(self.transport.json("GET", "/memory"))
        self._version = document.version
        return document

    def set(self, content: str, *, expected_version: int | None = None,
            overflow: str | None = None) -> MemoryWrite:
        """Replace the memory; with ``expected_version`` a stale version is ``VersionConflict``."""
        return self._write(content, append=False, version=expected_version, overflow=overflow)

    def append(self, text: str, *, overflow: str | None = None,
               attempts: int = 20) -> MemoryWrite:
        """Append ``text``; a concurrent writer only makes it try again on the newer version.

        The first try uses the last version this object saw, or 0: a 409 names the current
        version, so appending needs no read (and no ``memory:read`` scope).
        ``VersionConflict`` is raised only after ``attempts`` conflicts in a row.
        """
        version = self._version if self._version is not None else 0
        for attempt in range(attempts):
            try:
                return self._write(text, append=True, version=version, overflow=overflow)
            except VersionConflict as exc:
                if attempt + 1 == attempts:
                    raise
                current = exc.current_version
                version = current if current is not None else self.get().version
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2 ** attempt)))
        raise AssertionError("unreachable")

    def versions(self) -> list[MemoryVersion]:
        """The kept versions, newest first, without their text."""
        return [MemoryVersion.from_api(v) for v in self.transport.json("GET", "/memory/versions")]

    def version(self, number: int) -> MemoryVersion:
        """One kept version with its text (``NotFound`` once it is no longer kept)."""
        return MemoryVersion.from_api(self.transport.json("GET", f"/memory/versions/{int(number)}"))

    def revert(self, number: int, *, expected_version: int | None = None) -> MemoryWrite:
        """Make a kept version current again, as a new version."""
        headers = _if_match(expected_version)
        result = MemoryWrite.from_api(self.transport.json(
            "POST", f"/memory/versions/{int(number)}/revert", headers=headers))
        self._version = result.version
        return result

    def _write(self, content: str, *, append: bool, version: int | None,
               overflow: str | None) -> MemoryWrite:
        if overflow is not None and overflow not in OVERFLOW:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOW)}")
        body: dict[str, Any] = {"content": content, "append": append}
        if overflow is not None:
            body["overflow"] = overflow
        try:
            result = MemoryWrite.from_api(self.transport.json(
                "POST", "/memory", json=body, headers=_if_match(version)))
        except VersionConflict as exc:
            self._version = exc.current_version
            raise
        self._version = result.version
        return result


def _if_match(version: int | None) -> dict[str, str]:
    return {} if version is None else {"If-Match": str(int(version))}
