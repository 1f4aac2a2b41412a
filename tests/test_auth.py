"""Authentication end to end: dev HS256 tokens, a real JWKS issuer, config checks, and
lazy, race-safe workspace creation.

The JWKS issuer is a real HTTP server on a free local port serving an RSA key made here;
tokens are signed with PyJWT exactly as an identity provider would sign them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from localdev.clamd import free_port
from shared import factory
from shared.auth import MAX_SUB_CHARS, mint_dev_token
from shared.config import Settings
from shared.errors import ConfigError
from tests.conftest import API, DEV_SECRET, base_env

ISSUER = "https://issuer.test.example"
AUDIENCE = "workspace-api"
KID = "test-key-1"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _get(api: Any, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return api.client.get(API, headers=headers)


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


# -- dev mode (HS256 with AUTH_DEV_SECRET) ---------------------------------------------------

def test_dev_valid_token_is_accepted(api):
    response = _get(api, f"Bearer {mint_dev_token(DEV_SECRET, 'alice')}")
    assert response.status_code == 200, response.json
    assert response.json["workspace_id"]
    again = _get(api, f"Bearer {mint_dev_token(DEV_SECRET, 'alice')}")
    assert again.json["workspace_id"] == response.json["workspace_id"]
    other = _get(api, f"Bearer {mint_dev_token(DEV_SECRET, 'bob')}")
    assert other.status_code == 200
    assert other.json["workspace_id"] != response.json["workspace_id"]


def _dev_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + 3600}
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _alg_none_token() -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_dev_claims())}."


BAD_DEV_HEADERS = {
    "missing header": lambda: None,
    "basic scheme": lambda: "Basic " + base64.b64encode(b"alice:password").decode(),
    "bearer without token": lambda: "Bearer ",
    "bearer word only": lambda: "Bearer",
    "bearer whitespace token": lambda: "Bearer    ",
    "garbage token": lambda: "Bearer not.a.jwt",
    "garbage bytes": lambda: "Bearer %%%%",
    "other secret": lambda: "Bearer " + jwt.encode(
        _dev_claims(), "another-secret-0123456789-abcdefghijklmnop", algorithm="HS256"),
    "expired beyond leeway": lambda: "Bearer " + jwt.encode(
        _dev_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 300),
        DEV_SECRET, algorithm="HS256"),
    "no sub": lambda: "Bearer " + jwt.encode(_dev_claims(sub=None), DEV_SECRET,
                                             algorithm="HS256"),
    "empty sub": lambda: "Bearer " + jwt.encode(_dev_claims(sub=""), DEV_SECRET,
                                                algorithm="HS256"),
    "no exp": lambda: "Bearer " + jwt.encode(_dev_claims(exp=None), DEV_SECRET,
                                             algorithm="HS256"),
    "alg none": lambda: "Bearer " + _alg_none_token(),
    "sub of 200 chars": lambda: "Bearer " + mint_dev_token(DEV_SECRET, "u" * 200),
    "HS512 with the right secret": lambda: "Bearer " + jwt.encode(
        _dev_claims(), DEV_SECRET, algorithm="HS512"),
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", sorted(BAD_DEV_HEADERS))
def test_dev_rejects_bad_credentials(api, case):
    _assert_401(_get(api, BAD_DEV_HEADERS[case]()))


def test_dev_alg_none_token_is_well_formed_but_rejected(api):
    # The crafted token really is an unsigned JWT that names alice: only its algorithm is wrong.
    token = _alg_none_token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "none"
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "alice"
    _assert_401(_get(api, f"Bearer {token}"))


def test_dev_sub_length_limit_is_exact(api):
    at_limit = _get(api, "Bearer " + mint_dev_token(DEV_SECRET, "u" * MAX_SUB_CHARS))
    assert at_limit.status_code == 200, at_limit.json
    _assert_401(_get(api, "Bearer " + mint_dev_token(DEV_SECRET, "u" * (MAX_SUB_CHARS + 1))))


def test_dev_expiry_within_leeway_is_accepted(api):
    token = jwt.encode(_dev_claims(iat=int(time.time()) - 60, exp=int(time.time()) - 5),
                       DEV_SECRET, algorithm="HS256")
    assert _get(api, f"Bearer {token}").status_code == 200


def test_dev_scheme_is_case_insensitive(api):
    response = _get(api, f"bearer {mint_dev_token(DEV_SECRET, 'alice')}")
    assert response.status_code == 200


def test_rejected_token_creates_no_workspace(api, env):
    from shared import factory

    _assert_401(_get(api, "Bearer " + jwt.encode(
        _dev_claims(sub="mallory"), "another-secret-0123456789-abcdefghijklmnop",
        algorithm="HS256")))
    assert _workspace_rows(factory.metadata_store(), "mallory") == 0


def _workspace_rows(store: Any, user_id: str) -> int:
    """Workspaces stored for ``user_id``, read straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM workspaces WHERE user_id = ?",
                                (user_id,)).fetchone()[0])


# -- JWKS mode (a real issuer on a local port) ---------------------------------------------

class Issuer:
    """An RSA key and a JWKS document served over HTTP from a thread."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.requests = 0
        self.status = 200
        self.body: bytes | None = None  # None serves the key set
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                body = issuer.jwks if issuer.body is None else issuer.body
                self.send_response(issuer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, sub: str = "alice", key: Any = None, kid: str | None = KID,
              algorithm: str = "RS256", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE,
                                  "iat": now, "exp": now + 3600}
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        headers = {"kid": kid} if kid is not None else None
        return jwt.encode(claims, key if key is not None else self.key, algorithm=algorithm,
                          headers=headers)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.stop()


def _jwks_mode(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("AUTH_MODE", "jwks")
    monkeypatch.setenv("AUTH_JWKS_URL", url)
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("AUTH_AUDIENCE", AUDIENCE)
    monkeypatch.delenv("AUTH_DEV_SECRET", raising=False)
    factory.reset()


@pytest.fixture
def jwks_api(api, issuer, monkeypatch):
    _jwks_mode(monkeypatch, issuer.url)
    return api


def test_jwks_valid_tokens_map_each_sub_to_its_own_workspace(jwks_api, issuer):
    alice = _get(jwks_api, f"Bearer {issuer.token('alice')}")
    assert alice.status_code == 200, alice.json
    assert issuer.requests >= 1  # the key really came from the JWKS endpoint
    bob = _get(jwks_api, f"Bearer {issuer.token('bob')}")
    assert bob.status_code == 200, bob.json
    assert alice.json["workspace_id"] != bob.json["workspace_id"]
    again = _get(jwks_api, f"Bearer {issuer.token('alice')}")
    assert again.json["workspace_id"] == alice.json["workspace_id"]


def test_jwks_mode_rejects_dev_tokens(jwks_api):
    _assert_401(_get(jwks_api, f"Bearer {mint_dev_token(DEV_SECRET, 'alice')}"))


BAD_JWKS_TOKENS = {
    "wrong audience": lambda issuer: issuer.token(aud="someone-else"),
    "no audience": lambda issuer: issuer.token(aud=None),
    "wrong issuer": lambda issuer: issuer.token(iss="https://evil.example"),
    "expired": lambda issuer: issuer.token(iat=int(time.time()) - 7200,
                                           exp=int(time.time()) - 300),
    "other key, same kid": lambda issuer: issuer.token(
        key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "unknown kid": lambda issuer: issuer.token(kid="no-such-key"),
    "hs256 signed with the public pem": lambda issuer: _hs256_with_pem(issuer),
    "alg none": lambda issuer: _jwks_alg_none(),
}


def _jwks_alg_none() -> str:
    now = int(time.time())
    header = _b64({"alg": "none", "typ": "JWT", "kid": KID})
    payload = _b64({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                    "exp": now + 3600})
    return f"{header}.{payload}."


def _hs256_with_pem(issuer: Issuer) -> str:
    """The algorithm-confusion attack: HMAC keyed with the issuer's public key.

    PyJWT refuses to *sign* HS256 with a PEM key, so the token is assembled by hand.
    """
    import hashlib
    import hmac

    now = int(time.time())
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": KID})
    payload = _b64({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                    "exp": now + 3600})
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(issuer.public_pem(), signing_input, hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize("case", sorted(BAD_JWKS_TOKENS))
def test_jwks_rejects_bad_tokens(jwks_api, issuer, case):
    # A good token first, so the key set is fetched and cached: rejections are then about
    # the token, not about reaching the issuer.
    assert _get(jwks_api, f"Bearer {issuer.token()}").status_code == 200
    token = BAD_JWKS_TOKENS[case](issuer)
    _assert_401(_get(jwks_api, f"Bearer {token}"))


def test_jwks_unreachable_issuer_is_503(api, monkeypatch):
    _jwks_mode(monkeypatch, f"http://127.0.0.1:{free_port()}/jwks.json")
    issuer = Issuer()  # only to sign a token that would otherwise be valid
    issuer.stop()
    response = _get(api, f"Bearer {issuer.token()}")
    assert response.status_code == 503, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    assert response.json["error"]
    # A token that could never be valid is still the caller's fault, outage or not.
    _assert_401(_get(api, "Bearer not.a.jwt"))
    _assert_401(_get(api, None))


def test_jwks_issuer_stopped_before_first_fetch_is_503(api, issuer, monkeypatch):
    _jwks_mode(monkeypatch, issuer.url)
    token = issuer.token()
    issuer.stop()
    response = _get(api, f"Bearer {token}")
    assert response.status_code == 503, (response.status_code, response.data)
    assert response.json["error"]


@pytest.mark.parametrize(("status", "body"), [
    (500, b'{"error": "internal"}'),
    (502, b"<html>bad gateway</html>"),
    (200, b"<html>maintenance</html>"),
])
def test_jwks_broken_issuer_is_503_not_401(jwks_api, issuer, status, body):
    # A valid token must not be turned away as "unauthorized" (which logs users out)
    # because the issuer's key endpoint is broken: that is an outage, so 503.
    issuer.status, issuer.body = status, body
    response = _get(jwks_api, f"Bearer {issuer.token()}")
    assert issuer.requests >= 1
    assert response.status_code == 503, (response.status_code, response.data)
    assert response.json["error"]
    issuer.status, issuer.body = 200, None
    # Recovery: once the issuer answers again, the same kind of token is accepted.
    assert _get(jwks_api, f"Bearer {issuer.token()}").status_code == 200


# -- configuration ----------------------------------------------------------------------------

@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid dev configuration (proved valid), for each case to break one way."""
    for key, value in base_env(tmp_path / "storage", None).items():
        monkeypatch.setenv(key, value)
    for key in ("AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "MAX_FILE_SIZE_MB"):
        monkeypatch.delenv(key, raising=False)
    assert Settings.from_env().auth_mode == "dev"


BAD_CONFIG = {
    "short dev secret": ({"AUTH_MODE": "dev", "AUTH_DEV_SECRET": "short"}, "AUTH_DEV_SECRET"),
    "jwks without url": ({"AUTH_MODE": "jwks", "AUTH_ISSUER": ISSUER,
                          "AUTH_AUDIENCE": AUDIENCE}, "AUTH_JWKS_URL"),
    "cors wildcard": ({"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
    "cors wildcard in a list": ({"CORS_ALLOWED_ORIGINS": "https://app.example.com, *"},
                                "CORS_ALLOWED_ORIGINS"),
    "size not a number": ({"MAX_FILE_SIZE_MB": "abc"}, "MAX_FILE_SIZE_MB"),
    "scanner flag not a bool": ({"CLAMAV_SERVICE_ENABLED": "maybe"}, "CLAMAV_SERVICE_ENABLED"),
    # getaddrinfo wraps 70000 to 4464 silently: the scanner would be looked for elsewhere.
    "scanner port out of range": ({"CLAMAV_SERVICE_PORT": "70000"}, "CLAMAV_SERVICE_PORT"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIG))
def test_bad_config_raises_config_error(clean_env, monkeypatch, case):
    changes, names = BAD_CONFIG[case]
    for key, value in changes.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        Settings.from_env()
    assert names in str(info.value)


def test_jwks_config_with_all_three_settings_is_valid(clean_env, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "jwks")
    monkeypatch.setenv("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks.json")
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("AUTH_AUDIENCE", AUDIENCE)
    settings = Settings.from_env()
    assert (settings.auth_jwks_url, settings.auth_issuer, settings.auth_audience) == (
        "http://127.0.0.1:1/jwks.json", ISSUER, AUDIENCE)


# -- workspaces ------------------------------------------------------------------------------

def test_workspace_creation_is_lazy_and_race_safe(env):
    from shared import factory

    store = factory.metadata_store()
    assert _workspace_rows(store, "same-user") == 0
    barrier = threading.Barrier(16)

    def create(_: int) -> str:
        barrier.wait(timeout=30)
        return factory.metadata_store().get_or_create_workspace("same-user").id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create, range(16)))  # re-raises any thread's error
    assert len(ids) == 16 and len(set(ids)) == 1, ids
    assert _workspace_rows(store, "same-user") == 1


def test_dev_auth_is_refused_on_cloud_run(env, monkeypatch):
    monkeypatch.setenv("K_SERVICE", "files")
    with pytest.raises(ConfigError, match="dev"):
        Settings.from_env()


def test_cors_origins_lose_trailing_slashes(env, monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example.com/, https://b.example.com")
    assert Settings.from_env().cors_allowed_origins == ("https://a.example.com",
                                                        "https://b.example.com")
