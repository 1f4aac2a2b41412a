"""``POST /auth/dev-token``: the web app's dev sign-in exists only locally under AUTH_MODE=dev."""

from __future__ import annotations

import json

import jwt
import pytest

from shared import factory
from tests.conftest import API, DEV_SECRET, Api

URL = f"{API}/auth/dev-token"


def mint(api: Api, body: object, content_type: str = "application/json"):
    return api.client.post(URL, data=json.dumps(body), content_type=content_type)


def test_a_dev_token_signs_its_user_in(api):
    response = mint(api, {"user": "dana"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    claims = jwt.decode(body["token"], DEV_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "dana" and body["expires_at"].endswith("Z")
    listing = api.client.get(f"{API}/files", headers={"Authorization": f"Bearer {body['token']}"})
    assert listing.status_code == 200 and listing.get_json() == []


@pytest.mark.parametrize("body", [{"user": ""}, {"user": "a b"}, {"user": 7}, {},
                                  {"user": "x", "role": "admin"}, {"user": "x" * 129}])
def test_bad_users_are_400s(api, body):
    response = mint(api, body)
    assert response.status_code == 400 and "error" in response.get_json()


def test_not_in_dev_mode_the_route_does_not_exist(api, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "jwks")
    monkeypatch.setenv("AUTH_JWKS_URL", "https://issuer.example/jwks")
    monkeypatch.setenv("AUTH_ISSUER", "https://issuer.example")
    monkeypatch.setenv("AUTH_AUDIENCE", "workspace")
    factory.reset()
    response = mint(api, {"user": "dana"})
    assert response.status_code == 404 and "token" not in response.get_json()


def test_on_cloud_run_the_route_does_not_exist(api, monkeypatch):
    monkeypatch.setenv("K_SERVICE", "auth")
    factory.reset()
    response = mint(api, {"user": "dana"})
    assert response.status_code == 404 and "token" not in response.get_json()
