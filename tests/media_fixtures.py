"""Fixtures shared by the media tests: origins, a name-resolver hook, a test media service.

The service the tests install is production's (``factory.media_service``'s settings,
workspace and real clamd), with one difference: its ``NetPolicy`` comes from
``NetPolicy.for_tests`` and allows the exact loopback sockets of the origins started here,
and a resolver hook maps test names (``a.test``) to addresses without DNS.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localdev.origin import Origin
from shared import factory
from shared.config import get_settings
from shared.media.fetch import Fetcher, FetchLimits
from shared.media.netpolicy import NetPolicy
from shared.media.service import MediaService
from tests.conftest import API, Api


class Names:
    """A resolver hook: test names → addresses; anything else does not resolve."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"{host} does not resolve here")
        return list(self.table[host])


@pytest.fixture
def origin() -> Iterator[Origin]:
    """An HTTP origin on loopback."""
    server = Origin().start()
    yield server
    server.stop()


@pytest.fixture
def other_origin() -> Iterator[Origin]:
    """A second origin (another port: another host for credentials and redirects)."""
    server = Origin().start()
    yield server
    server.stop()


@pytest.fixture
def names() -> Names:
    return Names()


def build_service(allow: list[tuple[str, int]], names: Names,
                  limits: FetchLimits | None = None, ca_certs: str | None = None,
                  ) -> MediaService:
    """Production's media service, but fetching under a test policy."""
    policy = NetPolicy.for_tests(allow, resolver=names)
    return MediaService(get_settings(), factory.file_service(), factory.scanner(),
                        Fetcher(policy, limits or FetchLimits(), ca_certs), factory.gcs_input())


def install(monkeypatch: pytest.MonkeyPatch, service: MediaService) -> MediaService:
    """Make the ``media`` function use ``service`` (a cached callable, like the factory's)."""
    monkeypatch.setattr(factory, "media_service", functools.cache(lambda: service))
    return service


@pytest.fixture
def media(env, origin, names, monkeypatch) -> MediaService:
    """The test media service, allowed to reach ``origin`` only, installed for HTTP calls."""
    return install(monkeypatch, build_service([("127.0.0.1", origin.port)], names))


def exec_root(env: dict[str, str]) -> Path:
    return Path(env["MEDIA_EXEC_ROOT"])


def exec_files(env: dict[str, str]) -> list[str]:
    """Every file under the exec root, staging included (proof that nothing was kept)."""
    root = exec_root(env)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def post_media(api: Api, body: dict[str, Any], user: str = "alice",
               headers: dict[str, str] | None = None) -> Any:
    """POST /media; returns the werkzeug response."""
    return api.client.post(API + "/media", data=json.dumps(body),
                           headers={**api.headers(user), **(headers or {})},
                           content_type="application/json")
