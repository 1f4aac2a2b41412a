"""The route table: which deployed function serves which URL prefix.

The local server mounts functions from it, and later the Terraform URL map and the OpenAPI
drift tests read it too, so production routing and local routing cannot diverge.
Longer prefixes win.
"""

from __future__ import annotations

from dataclasses import dataclass

API_PREFIX = "/api/assistant/workspace"


@dataclass(frozen=True)
class Route:
    """A URL prefix and the entry point (in ``main.py``) that serves it."""

    prefix: str
    function: str


ROUTES: tuple[Route, ...] = (
    Route(f"{API_PREFIX}/files", "files"),
    Route(f"{API_PREFIX}/folders", "files"),  # folders are files' paths: the same function
    Route(f"{API_PREFIX}/logs", "logs"),
    Route(f"{API_PREFIX}/media", "media"),
    Route(f"{API_PREFIX}/memory", "memory"),
    Route(f"{API_PREFIX}/search", "search"),
    Route(f"{API_PREFIX}/auth", "auth"),
    Route(API_PREFIX, "workspace"),
    Route("/healthz", "workspace"),
)


def function_for(path: str) -> str | None:
    """The function that serves ``path``, or None."""
    for route in sorted(ROUTES, key=lambda r: -len(r.prefix)):
        if path == route.prefix or path.startswith(route.prefix + "/"):
            return route.function
    return None
