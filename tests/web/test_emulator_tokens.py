"""Firebase Auth emulator tokens: accepted only while FIREBASE_AUTH_EMULATOR_HOST is set.

The emulator signs nothing (``alg: none``), so its tokens are checked for everything else:
issuer, audience, expiry and ``sub``. Without the emulator host the same token goes to
Google's key set (here a real local JWKS issuer standing in for it) and is refused; on Cloud
Run the emulator setting is refused outright. ``tests/web/test_browser.py`` signs in against
the real emulator.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared import auth, factory
from shared.config import Settings
from shared.errors import ConfigError
from tests.conftest import API
from tests.test_auth import Issuer

PROJECT = "demo-workspace"
TIME_CLAIMS = {"exp", "iat", "auth_time"}  # seconds since the epoch


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def emulator_token(**overrides: Any) -> str:
    """A token shaped like the Auth emulator's (header, claims, empty signature)."""
    now = int(time.time())
    claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT,
              "sub": "uid-emma", "user_id": "uid-emma", "iat": now, "exp": now + 3600,
              "auth_time": now, "firebase": {"sign_in_provider": "password"}, **overrides}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


@pytest.fixture
def firebase_api(api, monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("AUTH_MODE", "firebase")
    monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    factory.reset()
    yield api
    factory.reset()


def files(api: Any, token: str) -> Any:
    return api.client.get(f"{API}/files", headers={"Authorization": f"Bearer {token}"})


def test_an_emulator_token_signs_its_user_in(firebase_api):
    response = files(firebase_api, emulator_token())
    assert response.status_code == 200, response.get_json()
    overview = firebase_api.client.get(API, headers={"Authorization":
                                                     f"Bearer {emulator_token()}"})
    assert overview.status_code == 200 and overview.get_json()["file_count"] == 0


# Times are offsets from the moment the test runs (applied in the test), never instants
# taken at collection: a run that reaches this module more than 10 minutes after collecting
# would otherwise send an "issued in the future" token that is no longer in the future.
@pytest.mark.parametrize("overrides", [
    {"aud": "another-project"},
    {"iss": "https://securetoken.google.com/another-project"},
    {"exp": -600, "iat": -4000},  # expired
    {"iat": 600},  # issued in the future
    {"exp": None}, {"iat": None},  # required, as for signed tokens
    {"auth_time": 600},  # signed in in the future
    {"sub": ""},
], ids=["audience", "issuer", "expired", "iat-future", "no-exp", "no-iat",
        "auth_time-future", "empty-sub"])
def test_emulator_tokens_are_still_checked(firebase_api, overrides):
    now = int(time.time())
    claims = {key: now + value if key in TIME_CLAIMS else value
              for key, value in overrides.items() if value is not None}
    token = emulator_token(**claims)
    if None in overrides.values():  # drop the claim altogether
        header, payload, _ = token.split(".")
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=="))
        for key in overrides:
            decoded.pop(key, None)
        token = f"{header}.{_b64(decoded)}."
    response = files(firebase_api, token)
    assert response.status_code == 401, response.get_json()


def test_emulator_tokens_get_the_same_clock_leeway(firebase_api):
    """30 s either way, as for signed tokens: a token that expired 10 s ago still works."""
    now = int(time.time())
    late = emulator_token(exp=now - 10, iat=now - 3610, auth_time=now - 3610)
    assert files(firebase_api, late).status_code == 200
    assert files(firebase_api, emulator_token(exp=now - 60, iat=now - 3660)).status_code == 401


def test_a_signed_token_is_not_taken_for_an_emulator_one(firebase_api):
    import jwt

    forged = jwt.encode({"sub": "uid-emma", "iat": int(time.time()),
                         "exp": int(time.time()) + 60, "aud": PROJECT,
                         "iss": f"https://securetoken.google.com/{PROJECT}"},
                        "some-secret-0123456789-0123456789-abc", algorithm="HS256")
    assert files(firebase_api, forged).status_code == 401


def test_without_the_emulator_host_unsigned_tokens_are_refused(firebase_api, monkeypatch):
    issuer = Issuer()  # stands in for Google's key set, which is unreachable here
    try:
        monkeypatch.setattr(auth, "FIREBASE_JWKS_URL", issuer.url)
        monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST")
        factory.reset()
        assert files(firebase_api, emulator_token()).status_code == 401
    finally:
        issuer.stop()


def test_the_emulator_is_refused_on_cloud_run(monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "firebase")
    monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    monkeypatch.setenv("K_SERVICE", "files")
    with pytest.raises(ConfigError, match="refused on Cloud Run"):
        Settings.from_env()
    monkeypatch.delenv("K_SERVICE")
    settings = Settings.from_env()
    assert settings.firebase_auth_emulator_host == "127.0.0.1:9099"
    assert auth.Authenticator(settings).mode == "firebase"
