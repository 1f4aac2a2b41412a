"""API-key scopes and each route's access decision: ``SCOPES``, ``Access``.

A user's token may do whatever its user may; a workspace API key only what its scopes
allow. Every route names its ``Access`` when it is registered (``Router.route`` has no
default for it), and the router checks it in one place, right after authentication, so a
route cannot be added without a decision and no handler checks scopes itself:

- ``PUBLIC``: no credentials at all (``/healthz``, signed download links);
- ``USER_ONLY``: a user's token; an API key gets a 403 (keys cannot manage keys);
- ``needs(*scopes)``: a user, or a key holding every one of ``scopes``;
- ``needs_by(choose, *possible)``: the scopes depend on the request (``GET /search`` needs
  the read scope of each type it searches); ``possible`` is every scope it may ask for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.context import RequestContext
from shared.errors import Forbidden

if TYPE_CHECKING:  # queries loads the models: a cold start needs neither to declare routes
    from shared.queries import Args

SCOPES = ("files:read", "files:write", "memory:read", "memory:write", "logs:read", "media")
KINDS = ("public", "user", "scoped")

Chooser = Callable[["Args"], tuple[str, ...]]


@dataclass(frozen=True)
class Access:
    """Who may call a route (see the module docstring)."""

    kind: str
    scopes: tuple[str, ...] = ()
    choose: Chooser | None = None

    def __post_init__(self) -> None:
        unknown = set(self.scopes) - set(SCOPES)
        if self.kind not in KINDS or unknown:
            raise ValueError(f"bad access declaration: {self.kind} {sorted(unknown)}")

    @property
    def public(self) -> bool:
        """True when the route needs no credentials."""
        return self.kind == "public"

    def needed(self, args: Args) -> tuple[str, ...]:
        """The scopes a key needs for this request (``args``: its query arguments)."""
        if self.choose is None:
            return self.scopes
        chosen = self.choose(args)
        assert set(chosen) <= set(self.scopes), f"{chosen} not among {self.scopes}"
        return chosen

    def check(self, ctx: RequestContext, args: Args) -> None:
        """403 when an API key may not make this request; users pass."""
        if ctx.key_id is None:
            return
        if self.kind == "user":
            raise Forbidden("an API key cannot manage API keys; use a user's token")
        for scope in self.needed(args):
            if scope not in ctx.scopes:
                raise Forbidden(f"this API key lacks the '{scope}' scope",
                                missing_scope=scope)


PUBLIC = Access("public")
USER_ONLY = Access("user")


def needs(*scopes: str) -> Access:
    """A route a key may call when it holds every one of ``scopes``."""
    return Access("scoped", tuple(scopes))


def needs_by(choose: Chooser, *possible: str) -> Access:
    """A route whose scopes ``choose`` picks per request, among ``possible``."""
    return Access("scoped", tuple(possible), choose)
