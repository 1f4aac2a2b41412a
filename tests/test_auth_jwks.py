"""Tokens against a real JWKS issuer with RSA and EC keys (issue 16, item 4).

A token whose header names one key type's algorithm with another key's ``kid`` raised a
``TypeError`` inside PyJWT: every route answered 500. Here every mismatch is a 401, an issuer
that is down, broken or hung is a 503 within the bounded wait (never a 401, and never a pile-up
behind one fetch), a rotated key is fetched once, and ``firebase`` mode checks its issuer,
audience and ``auth_time``. The issuer is a real HTTP server on a free port
(``tests/jwks_issuer.py``); one test runs the whole server as a process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from localdev.process import LocalServer
from shared import factory
from shared.errors import BackendUnavailable, Unauthorized
from shared.jwks import KeySet
from tests.conftest import API, base_env
from tests.jwks_issuer import AUDIENCE, ISSUER, KeyIssuer

ROUTES = ("", "/files", "/memory", "/logs", "/search?query=x", "/files/count")


@pytest.fixture
def issuer() -> Iterator[KeyIssuer]:
    server = KeyIssuer()
    yield server
    server.stop()


def _auth_env(issuer_url: str, mode: str = "jwks", timeout: int = 5) -> dict[str, str]:
    values = {"AUTH_MODE": mode, "AUTH_JWKS_URL": issuer_url,
              "AUTH_JWKS_TIMEOUT_SECONDS": str(timeout)}
    if mode == "jwks":
        values.update(AUTH_ISSUER=ISSUER, AUTH_AUDIENCE=AUDIENCE)
    else:
        values["FIREBASE_PROJECT_ID"] = "proj-1"
    return values


def _use(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    factory.reset()


@pytest.fixture
def jwks_api(api, issuer, monkeypatch):
    _use(monkeypatch, _auth_env(issuer.url))
    return api


def _status(api: Any, token: str, route: str = "") -> tuple[int, Any]:
    response = api.client.get(API + route, headers={"Authorization": f"Bearer {token}"})
    body = response.get_json(silent=True)
    assert response.mimetype == "application/json", response.data
    assert isinstance(body, dict) or response.status_code == 200, body
    return response.status_code, body


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}


def _unsigned(header: dict[str, Any]) -> str:
    return f"{_b64(header)}.{_b64(_claims())}."


def _hs256_keyed_with(secret: bytes, kid: str) -> str:
    """The algorithm-confusion attack: HMAC keyed with the issuer's public key."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(_claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _rsa_pem(issuer: KeyIssuer) -> bytes:
    return issuer.private["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


MISMATCHES = {
    "ES256 header with the RSA key's kid": lambda i: i.token(kid="rsa-1", signing_kid="ec-1"),
    "RS256 header with the EC key's kid": lambda i: i.token(kid="ec-1", signing_kid="rsa-1"),
    "PS256 signed by the RSA key": lambda i: i.token(kid="rsa-1", algorithm="PS256"),
    "ES384 header with the EC key's kid": lambda i: _unsigned(
        {"alg": "ES384", "typ": "JWT", "kid": "ec-1"}) + "AAAA",
    "unknown kid": lambda i: i.token(kid="no-such-key", signing_kid="rsa-1"),
    "kid is a number": lambda i: _unsigned({"alg": "RS256", "kid": 7}) + "AAAA",
    "kid is empty": lambda i: _unsigned({"alg": "RS256", "kid": ""}) + "AAAA",
    "alg none with a real kid": lambda i: _unsigned({"alg": "none", "kid": "rsa-1"}),
    "HS256 keyed with the RSA public PEM": lambda i: _hs256_keyed_with(_rsa_pem(i), "rsa-1"),
    "HS256 keyed with the JWKS document": lambda i: _hs256_keyed_with(i.document(), "rsa-1"),
    "no kid with several keys": lambda i: i.token(kid=None, signing_kid="rsa-1"),
    "no kid with several keys, EC": lambda i: i.token(kid=None, signing_kid="ec-1"),
}


@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_key_type_alg_and_kid_mismatches_are_401(jwks_api, issuer, case):
    token = MISMATCHES[case](issuer)
    for route in ROUTES[:3]:
        status, body = _status(jwks_api, token, route)
        assert status == 401, (route, status, body)
        assert body["error"] == MISMATCH_ERRORS.get(case, body["error"])


MISMATCH_ERRORS = {  # checked before any key is looked up, each with its own answer
    "PS256 signed by the RSA key": "token algorithm is not accepted",
    "ES384 header with the EC key's kid": "token algorithm is not accepted",
    "alg none with a real kid": "token algorithm is not accepted",
    "kid is a number": "invalid token",  # PyJWT refuses a header kid that is no string
    "kid is empty": "token has no key id ('kid')",
    "unknown kid": "the token's key id is not one of the issuer's keys",
    "no kid with several keys": "token has no key id ('kid')",
}


def test_each_key_type_verifies_its_own_tokens(jwks_api, issuer):
    for kid in ("rsa-1", "ec-1"):
        status, body = _status(jwks_api, issuer.token(kid=kid))
        assert status == 200, (kid, body)


def test_mismatched_token_is_401_on_every_route_of_a_real_server(tmp_path, issuer):
    """The reported 500, through ``python -m localdev.server``: no route answers 500 and
    the server logs no traceback."""
    env = {**base_env(tmp_path / "storage", None), **_auth_env(issuer.url)}
    server = LocalServer(tmp_path / "server", env, threads=4).start(timeout=60)
    try:
        token = issuer.token(kid="rsa-1", signing_kid="ec-1")
        for route in ROUTES:
            request = urllib.request.Request(server.url + API + route,
                                             headers={"Authorization": f"Bearer {token}"})
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=10)
            assert info.value.code == 401, (route, info.value.read())
            assert json.loads(info.value.read())["error"]
        good = urllib.request.Request(server.url + API, headers={
            "Authorization": f"Bearer {issuer.token(kid='ec-1')}"})
        with urllib.request.urlopen(good, timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


# -- the issuer down, broken, slow or rotating -------------------------------------------

@pytest.mark.parametrize(("status", "body"), [
    (200, b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "rsa-1"}]}'),
    (200, b'[]'),
    (200, b'{"keys": []}'),
    (404, b'{"error": "gone"}'),
])
def test_an_unusable_key_set_is_503_not_401(jwks_api, issuer, status, body):
    issuer.status, issuer.body = status, body
    code, answer = _status(jwks_api, issuer.token())
    assert code == 503, answer
    # Still a 401 for a token that could never be valid, outage or not.
    assert _status(jwks_api, _unsigned({"alg": "none", "kid": "rsa-1"}))[0] == 401


def test_a_hung_issuer_costs_each_request_one_bounded_wait(jwks_api, issuer, monkeypatch):
    _use(monkeypatch, _auth_env(issuer.url, timeout=1))
    issuer.hang.set()
    token = issuer.token()

    def timed(_: int) -> tuple[int, float]:
        start = time.monotonic()
        code = _status(jwks_api, token)[0]
        return code, time.monotonic() - start

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(timed, range(8)))
    elapsed = time.monotonic() - started
    assert [code for code, _ in results] == [503] * 8
    # PyJWKClient's lock made these wait one timeout after the other (8 s here).
    assert elapsed < 2.5, results
    assert issuer.fetches == 1
    # Within the retry window the issuer is not asked again: an immediate 503.
    code, took = timed(0)
    assert (code, issuer.fetches) == (503, 1) and took < 0.5
    assert _status(jwks_api, token)[1] == {
        "error": "the token issuer's key set did not answer in time"}
    # Garbage stays a 401 at once, whatever the issuer does.
    start = time.monotonic()
    assert _status(jwks_api, _unsigned({"alg": "none", "kid": "rsa-1"}))[0] == 401
    assert time.monotonic() - start < 0.5


def test_a_dripping_issuer_costs_one_bounded_wait(issuer):
    """An issuer that answers a byte every 0.2 s never leaves a read idle long enough for
    a socket timeout: only the fetch's own bound (``timeout``) keeps the request from
    waiting the minutes the whole body would take."""
    issuer.drip = 0.2
    keys = KeySet(issuer.url, timeout=1)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match="did not answer in time"):
        keys.key("rsa-1")
    assert time.monotonic() - start < 3
    with pytest.raises(BackendUnavailable):  # within retry_after: at once, no second fetch
        keys.key("rsa-1")
    assert issuer.fetches == 1


def test_a_set_of_symmetric_keys_only_is_named_in_the_503(jwks_api, issuer):
    issuer.body = b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "rsa-1"}]}'
    assert _status(jwks_api, issuer.token()) == (
        503, {"error": "the token issuer's key set has no usable signing key"})


def test_a_hung_issuer_is_named_in_the_503(jwks_api, issuer, monkeypatch):
    _use(monkeypatch, _auth_env(issuer.url, timeout=1))
    issuer.hang.set()
    assert _status(jwks_api, issuer.token()) == (
        503, {"error": "the token issuer's key set did not answer in time"})


def test_a_stale_set_serves_known_keys_while_the_issuer_hangs(issuer, caplog):
    caplog.set_level(logging.WARNING, logger="shared.jwks")
    keys = KeySet(issuer.url, timeout=1, lifespan=0.3)
    assert keys.key("rsa-1").key_id == "rsa-1"
    issuer.hang.set()
    time.sleep(0.4)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: keys.key("ec-1").key_id, range(4)))
    assert found == ["ec-1"] * 4
    assert time.monotonic() - start < 1.8
    assert issuer.fetches == 2  # one refresh tried, the others served the stale set
    assert "serving the issuer's cached key set: it cannot be refreshed" in [
        r.getMessage() for r in caplog.records]  # the refresher, when its fetch timed out


def test_a_burst_of_first_requests_costs_the_issuer_one_fetch(issuer):
    """Eight requests arrive while the first fetch is under way (the issuer takes 0.5 s):
    they wait for it and share its result, rather than fail or fetch again."""
    issuer.delay = 0.5
    keys = KeySet(issuer.url, timeout=10)
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda _: keys.key("rsa-1").key_id, range(8)))
    assert found == ["rsa-1"] * 8
    assert issuer.fetches == 1


def test_a_known_key_never_queues_behind_a_refresh(issuer):
    """One request refreshes the stale set from an issuer that never answers (its wait: up
    to 30 s); meanwhile a request for a key the stale set has is served from it at once."""
    keys = KeySet(issuer.url, timeout=30, lifespan=0.01)
    assert keys.key("rsa-1").key_id == "rsa-1"
    issuer.hang.set()
    time.sleep(0.05)  # the set is stale now
    threading.Thread(target=keys.key, args=("rsa-1",), daemon=True).start()
    deadline = time.monotonic() + 10
    while issuer.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert issuer.fetches == 2  # the refresh is under way, and hangs
    served: list[str] = []
    other = threading.Thread(target=lambda: served.append(keys.key("ec-1").key_id),
                             daemon=True)
    start = time.monotonic()
    other.start()
    other.join(10)  # not 30: it must not wait for the refresh
    assert served == ["ec-1"] and issuer.fetches == 2
    assert time.monotonic() - start < 0.7  # nor any part of it: the stale set at once


def test_a_rotated_key_is_fetched_once_and_made_up_kids_never_refetch(jwks_api, issuer):
    assert _status(jwks_api, issuer.token(kid="rsa-1"))[0] == 200
    assert issuer.fetches == 1
    issuer.add_rsa("rsa-2")
    for _ in range(10):
        assert _status(jwks_api, issuer.token(kid="rsa-2"))[0] == 200
    assert issuer.fetches == 2
    for number in range(10):
        token = issuer.token(kid=f"made-up-{number}", signing_kid="rsa-1")
        assert _status(jwks_api, token)[0] == 401
    assert issuer.fetches == 2


def test_requests_for_a_rotated_key_wait_for_the_fetch_it_started(issuer):
    """The issuer rotates to a new key and takes 0.5 s to answer. The first request for the
    new key starts the one refetch; seven more arrive while it runs: they wait for it and
    get the key, rather than a 401 from the unknown-kid cooldown meant for made-up kids."""
    keys = KeySet(issuer.url, timeout=10)
    assert keys.key("rsa-1").key_id == "rsa-1"
    issuer.add_rsa("rsa-2")
    issuer.delay = 0.5
    first = threading.Thread(target=keys.key, args=("rsa-2",), daemon=True)
    first.start()
    deadline = time.monotonic() + 10
    while issuer.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with ThreadPoolExecutor(max_workers=7) as pool:
        found = list(pool.map(lambda _: keys.key("rsa-2").key_id, range(7)))
    first.join(10)
    assert found == ["rsa-2"] * 7
    assert issuer.fetches == 2  # still one refetch for the rotation
    with pytest.raises(Unauthorized):  # and a made-up kid right after it: 401, no fetch
        keys.key("made-up")
    assert issuer.fetches == 2


def test_unknown_kids_waiting_on_a_failed_refetch_do_not_fetch_again(issuer):
    """While the rotation's refetch runs, requests for other unknown kids wait for it; when
    it fails they fail too (401: still unknown), without one more fetch each."""
    keys = KeySet(issuer.url, timeout=10)
    assert keys.key("rsa-1").key_id == "rsa-1"
    issuer.delay, issuer.status = 0.5, 500
    outcome: list[type] = []

    def rotate() -> None:
        try:
            keys.key("rsa-9")
        except (BackendUnavailable, Unauthorized) as exc:
            outcome.append(type(exc))

    first = threading.Thread(target=rotate, daemon=True)
    first.start()
    deadline = time.monotonic() + 10
    while issuer.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    def status(kid: str) -> str:
        try:
            keys.key(kid)
        except Unauthorized as exc:
            assert str(exc) == "the token's key id is not one of the issuer's keys"
            return "401"
        return "200"

    with ThreadPoolExecutor(max_workers=6) as pool:
        found = list(pool.map(status, [f"made-up-{i}" for i in range(6)]))
    first.join(10)
    assert outcome == [BackendUnavailable]  # the refetcher sees the outage: 503
    assert found == ["401"] * 6
    assert issuer.fetches == 2


def test_the_issuer_comes_back_after_an_outage(jwks_api, issuer):
    issuer.status = 500
    assert _status(jwks_api, issuer.token())[0] == 503
    issuer.status = 200
    assert _status(jwks_api, issuer.token())[0] == 200


# -- firebase mode ------------------------------------------------------------------------

FIREBASE_ISSUER = "https://securetoken.google.com/proj-1"

# auth_time values are offsets from the moment the test runs (added there), not instants
# taken at import, which a long run could overtake.
FIREBASE_CASES = {
    "valid": (200, {}),
    "issuer of another project": (401, {"issuer": "https://securetoken.google.com/other"}),
    "generic issuer": (401, {"issuer": ISSUER}),
    "audience of another project": (401, {"audience": "other"}),
    "no auth_time": (401, {"auth_time": None}),
    "auth_time in the future": (401, {"auth_time": 3600}),
    "auth_time not a number": (401, {"auth_time": "yesterday"}),
    "signed in just now": (200, {"auth_time": 0}),
}


@pytest.mark.parametrize("case", sorted(FIREBASE_CASES))
def test_firebase_mode_checks_issuer_audience_and_auth_time(api, issuer, monkeypatch, case):
    _use(monkeypatch, _auth_env(issuer.url, mode="firebase"))
    expected, overrides = FIREBASE_CASES[case]
    now = int(time.time())
    if isinstance(overrides.get("auth_time"), int):
        overrides = {**overrides, "auth_time": now + overrides["auth_time"]}
    claims = {"issuer": FIREBASE_ISSUER, "audience": "proj-1", "auth_time": now - 60,
              **overrides}
    status, body = _status(api, issuer.token(kid="rsa-1", **claims))
    assert status == expected, body
    if case.startswith("auth_time") or case == "no auth_time":
        assert body == {"error": "token has no valid 'auth_time' claim"}


def test_firebase_mode_defaults_to_googles_key_set(tmp_path: Path, monkeypatch):
    for key, value in {**base_env(tmp_path, None), "AUTH_MODE": "firebase",
                       "FIREBASE_PROJECT_ID": "proj-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUTH_JWKS_URL", raising=False)
    factory.reset()
    assert factory.authenticator().keys.url.startswith("https://www.googleapis.com/")
    factory.reset()
