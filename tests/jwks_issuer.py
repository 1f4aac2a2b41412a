"""``KeyIssuer``: a real JWKS endpoint on a free loopback port, with RSA and EC keys.

It signs tokens the way an identity provider does, can rotate keys, answer with an error,
or hang (accept the connection and never answer), and counts the fetches it served.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.test.example"
AUDIENCE = "workspace-api"


class KeyIssuer:
    """Keys by kid (``rsa-1`` and ``ec-1`` to start) served at ``url``."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.public_jwks: dict[str, dict[str, Any]] = {}
        self.add_rsa("rsa-1")
        self.add_ec("ec-1")
        self.fetches = 0
        self.status = 200
        self.body: bytes | None = None  # None serves the key set
        self.hang = threading.Event()  # set: accept and never answer
        self.delay = 0.0  # seconds before each answer (a slow issuer)
        self.drip = 0.0  # > 0: the body goes out a byte every `drip` seconds (never idle long)
        self._released = threading.Event()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                if issuer.hang.is_set():
                    issuer._released.wait(60)
                    return
                time.sleep(issuer.delay)
                body = issuer.body if issuer.body is not None else issuer.document()
                self.send_response(issuer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not issuer.drip:
                    self.wfile.write(body)
                    return
                for byte in body:  # each byte within any read timeout: only a total wait ends it
                    if issuer._released.wait(issuer.drip):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def add_rsa(self, kid: str) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self._add(kid, key, {**jwk, "alg": "RS256", "use": "sig"})

    def add_ec(self, kid: str) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self._add(kid, key, {**jwk, "alg": "ES256", "use": "sig"})

    def _add(self, kid: str, key: Any, jwk: dict[str, Any]) -> None:
        self.private[kid] = key
        self.public_jwks[kid] = {**jwk, "kid": kid}

    def document(self) -> bytes:
        return json.dumps({"keys": list(self.public_jwks.values())}).encode()

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def token(self, kid: str | None = "rsa-1", signing_kid: str | None = None,
              algorithm: str | None = None, headers: dict[str, Any] | None = None,
              issuer: str = ISSUER, audience: str = AUDIENCE, **claims: Any) -> str:
        """A token for ``alice`` naming ``kid``, signed with ``signing_kid``'s key (the same
        by default) in that key's algorithm unless ``algorithm`` says otherwise."""
        signer = signing_kid or kid or "rsa-1"
        key = self.private[signer]
        alg = algorithm or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
        now = int(time.time())
        payload = {"sub": "alice", "iss": issuer, "aud": audience, "iat": now,
                   "exp": now + 3600, **claims}
        payload = {name: value for name, value in payload.items() if value is not None}
        extra = dict(headers or {})
        if kid is not None:
            extra["kid"] = kid
        return jwt.encode(payload, key, algorithm=alg, headers=extra or None)
