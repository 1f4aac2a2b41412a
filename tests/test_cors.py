"""CORS through the mounted functions: preflights, actual requests, and never ``*``.

The fixture environment allows exactly ``https://app.example.com``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API

ALLOWED = "https://app.example.com"
DISALLOWED = [
    "https://evil.example.com",
    "https://app.example.com.evil.com",
    "http://app.example.com",
    "https://APP.EXAMPLE.COM.evil",
    "null",
]


def _preflight(api: Any, origin: str, path: str = "/files", method: str = "POST") -> Any:
    return api.client.options(API + path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, x-agent-id",
    })


def _tokens(value: str | None) -> set[str]:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def _no_wildcard(response: Any) -> None:
    for value in response.headers.get_all("Access-Control-Allow-Origin"):
        assert "*" not in value


def test_preflight_from_allowed_origin(api):
    response = _preflight(api, ALLOWED)
    assert response.status_code == 204
    assert response.headers.get_all("Access-Control-Allow-Origin") == [ALLOWED]
    methods = _tokens(response.headers.get("Access-Control-Allow-Methods"))
    assert {"post", "get", "delete"} <= methods
    headers = _tokens(response.headers.get("Access-Control-Allow-Headers"))
    assert {"authorization", "content-type", "x-agent-id"} <= headers
    assert "origin" in _tokens(response.headers.get("Vary"))
    assert response.data == b""
    _no_wildcard(response)


def test_preflight_needs_no_token(api):
    # Browsers never send credentials on a preflight; it must not be answered with 401.
    response = _preflight(api, ALLOWED, path="", method="GET")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("origin", DISALLOWED)
def test_preflight_from_disallowed_origin_gets_no_cors_headers(api, origin):
    response = _preflight(api, origin)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers
    assert "origin" in _tokens(response.headers.get("Vary"))


def test_actual_get_from_allowed_origin(api):
    for name in ("a.txt", "b.txt"):
        assert api.upload(b"x", name).status_code == 201
    response = api.get("/files?limit=1", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers.get_all("Access-Control-Allow-Origin") == [ALLOWED]
    assert "origin" in _tokens(response.headers.get("Vary"))
    exposed = _tokens(response.headers.get("Access-Control-Expose-Headers"))
    assert "x-next-cursor" in exposed
    # The header the browser is allowed to read is really there on this page.
    assert response.headers.get("X-Next-Cursor")
    _no_wildcard(response)


def test_actual_get_from_disallowed_origin(api):
    response = api.get("/files", headers={"Origin": "https://evil.example.com"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers
    assert "origin" in _tokens(response.headers.get("Vary"))


def test_errors_carry_cors_for_allowed_origin(api):
    # A browser can only read a 401's JSON body (to re-login) if the error has ACAO too.
    response = api.client.get(API + "/files", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.json["error"]
    missing = api.get("/files/file_999999", headers={"Origin": ALLOWED})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_no_request_ever_gets_a_wildcard_origin(api):
    created = api.upload(b"hello", "w.txt", headers={"Origin": ALLOWED})
    assert created.status_code == 201
    file_id = created.json["id"]
    responses = [
        created,
        _preflight(api, ALLOWED),
        _preflight(api, "*"),
        _preflight(api, "https://evil.example.com"),
        _preflight(api, ALLOWED, path="/logs", method="GET"),
        _preflight(api, ALLOWED, path="", method="GET"),
        api.get("", headers={"Origin": ALLOWED}),
        api.get("/summary", headers={"Origin": "*"}),
        api.get("/files", headers={"Origin": ALLOWED}),
        api.get(f"/files/{file_id}", headers={"Origin": ALLOWED}),
        api.get(f"/files/{file_id}/content", headers={"Origin": ALLOWED}),
        api.get("/logs", headers={"Origin": ALLOWED}),
        api.get("/files", headers={"Origin": "null"}),
        api.client.get(API + "/files", headers={"Origin": ALLOWED}),
        api.client.get("/healthz", headers={"Origin": ALLOWED}),
        api.delete(f"/files/{file_id}", headers={"Origin": ALLOWED}),
    ]
    for response in responses:
        _no_wildcard(response)
    # The allowed origin is echoed on every one of its responses, exactly once.
    for response in (responses[0], responses[1], responses[6], responses[8],
                     responses[10], responses[15]):
        assert response.headers.get_all("Access-Control-Allow-Origin") == [ALLOWED], \
            response.headers
    assert "Access-Control-Allow-Origin" not in responses[2].headers
    assert "Access-Control-Allow-Origin" not in responses[7].headers
