"""Authentication's exact answers: each refusal names its cause, required claims are required
in every mode, the clock leeway holds both ways, and Firebase mode checks Firebase's issuer
and audience for the configured project.

``test_auth.py`` covers the attacks (forged, confused, expired and foreign tokens); this file
pins the messages a client sees and the rules a loosened configuration would drop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from shared.auth import Authenticator, mint_dev_token
from shared.config import Settings
from tests.conftest import API, DEV_SECRET
from tests.test_auth import Issuer, _jwks_mode


def get(api, authorization: str | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    return api.client.get(API, headers=headers)


def refused(response, message: str, status: int = 401) -> None:
    assert response.status_code == status, (response.status_code, response.data)
    assert response.json == {"error": message}


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.stop()


def test_each_refusal_names_its_cause(api):
    refused(get(api, None), "missing Authorization header")
    refused(get(api, ""), "missing Authorization header")
    bearer = "Authorization must be 'Bearer <token>'"
    refused(get(api, "Basic YWxpY2U6c2VjcmV0"), bearer)
    refused(get(api, "Bearer "), bearer)
    refused(get(api, "Bearer    "), bearer)
    refused(get(api, "Token abc"), bearer)
    refused(get(api, "Bearer two words"), "invalid token")
    refused(get(api, "Bearer not.a.jwt"), "invalid token")
    refused(get(api, f"Bearer {mint_dev_token(DEV_SECRET, 'alice', ttl_seconds=-3600)}"),
            "token has expired")
    no_sub = "token has no valid 'sub' claim"
    refused(get(api, f"Bearer {mint_dev_token(DEV_SECRET, '')}"), no_sub)
    refused(get(api, f"Bearer {mint_dev_token(DEV_SECRET, 'a' * 129)}"), no_sub)
    assert get(api, f"bearer {mint_dev_token(DEV_SECRET, 'a' * 128)}").status_code == 200


def test_the_principal_carries_the_verified_claims(env):
    token = mint_dev_token(DEV_SECRET, "alice", role="editor")
    principal = Authenticator(Settings.from_env()).authenticate(f"Bearer  {token} ")
    assert principal.user_id == "alice"
    assert principal.claims["sub"] == "alice" and principal.claims["role"] == "editor"
    assert set(principal.claims) >= {"sub", "iat", "exp"}


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_jwks_tokens_need_every_required_claim(api, issuer, monkeypatch, missing):
    _jwks_mode(monkeypatch, issuer.url)
    assert get(api, f"Bearer {issuer.token()}").status_code == 200
    refused(get(api, f"Bearer {issuer.token(**{missing: None})}"), "invalid token")


def test_jwks_clock_leeway_holds_both_ways(api, issuer, monkeypatch):
    _jwks_mode(monkeypatch, issuer.url)
    now = int(time.time())
    assert get(api, f"Bearer {issuer.token(iat=now + 20)}").status_code == 200  # fast clock
    assert get(api, f"Bearer {issuer.token(iat=now - 600, exp=now - 10)}").status_code == 200
    refused(get(api, f"Bearer {issuer.token(iat=now - 600, exp=now - 120)}"),
            "token has expired")


def test_jwks_outages_name_the_key_set(api, issuer, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="shared.jwks")
    _jwks_mode(monkeypatch, issuer.url)
    issuer.status, issuer.body = 500, b'{"error": "internal"}'
    refused(get(api, f"Bearer {issuer.token()}"), "cannot get the token issuer's key set",
            503)
    [line] = [r.getMessage() for r in caplog.records if r.name == "shared.jwks"]
    assert line.startswith("cannot get the token issuer's key set: ")
    assert "HTTP Error 500" in line  # the cause, for the operator
