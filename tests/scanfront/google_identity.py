"""``FakeGoogleIdentity``: Google's ID-token endpoints, served locally with our own keys.

It serves the two things the ID-token flow touches: ``/certs`` (the ``{kid: x509 PEM}``
document at ``https://www.googleapis.com/oauth2/v1/certs``, which the front's
``verify_token`` reads through ``CLAMAV_FRONT_CERTS_URL``) and ``/token`` (the OAuth token
endpoint that ``fetch_id_token`` calls with a service-account key: it answers the signed JWT
assertion with an ID token for the asked audience, as Google does). Tokens are RS256 JWTs
signed by a key generated here, so nothing is mocked: google-auth does the real work on both
sides.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from localdev.gcs_keys import write_service_account_key

ISSUER = "https://accounts.google.com"


def _key_and_cert() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-google-id-tokens")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, cert.public_bytes(serialization.Encoding.PEM)


class FakeGoogleIdentity:
    """A local certs + token endpoint; ``mint`` signs ID tokens like Google's."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex
        self._key, self._cert = _key_and_cert()
        self.token_requests = 0
        self.cert_requests = 0
        self.token_lifetime = 3600
        identity = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=60")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path != "/certs":
                    return self._send(404, {"error": "not found"})
                identity.cert_requests += 1
                return self._send(200, {identity.kid: identity._cert.decode()})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                assertion = form.get("assertion", [""])[0]
                claims = jwt.decode(assertion, verify=False)  # the caller's key signed it
                identity.token_requests += 1
                token = identity.mint(claims["target_audience"], claims["iss"],
                                      expires_in=identity.token_lifetime)
                return self._send(200, {"id_token": token})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def certs_url(self) -> str:
        return f"{self.url}/certs"

    def start(self) -> FakeGoogleIdentity:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def mint(self, audience: str, email: str, *, verified: bool = True, expires_in: int = 3600,
             issuer: str = ISSUER, foreign_key: bool = False) -> str:
        """An ID token as Google's metadata server issues it (``format=full``)."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": str(uuid.uuid4().int)[:21],
                   "email": email, "email_verified": verified, "azp": email,
                   "iat": now - 5, "exp": now + expires_in}
        key = _key_and_cert()[0] if foreign_key else self._key
        signer = crypt.RSASigner.from_string(key, key_id=self.kid)
        return jwt.encode(signer, payload).decode()

    def service_account_key(self, path: Path, email: str) -> Path:
        """A service-account key file whose token endpoint is this server's ``/token``."""
        write_service_account_key(path, client_email=email)
        info = json.loads(path.read_text())
        info["token_uri"] = f"{self.url}/token"
        path.write_text(json.dumps(info))
        return path
