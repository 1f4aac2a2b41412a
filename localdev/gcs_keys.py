"""Local GCS set-up: ``write_service_account_key`` (a service-account key) and ``create_buckets``.

V4 signed URLs need an RSA key and a client email. Against fake-gcs-server there is no IAM,
so ``make dev`` and the tests sign with a key generated here: a service-account JSON file in
Google's format (``GCS_SIGNING_KEY_FILE``), whose email is fake and whose key never leaves the
machine. ``public_key_pem`` gives the matching public key, so tests can verify signatures.

    .venv/bin/python -m localdev.gcs_keys Runtime/gcs-signing-key.json
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_EMAIL = "workspace-signer@workspace-local.iam.gserviceaccount.com"


def write_service_account_key(path: str | os.PathLike[str], client_email: str = DEFAULT_EMAIL,
                      project_id: str = "workspace-local") -> Path:
    """Write a fresh RSA-2048 service-account key file (mode 0600) and return its path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(uuid.uuid4().int)[:21],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + client_email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle, indent=2)
    return target


def public_key_pem(path: str | os.PathLike[str]) -> bytes:
    """The public half of a key file written by ``write_service_account_key`` (PEM)."""
    info = json.loads(Path(path).read_text())
    private = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def create_buckets(emulator_url: str, project: str, *names: str) -> None:
    """Create buckets on fake-gcs-server; one that already exists is left as it is."""
    for name in names:
        request = urllib.request.Request(
            f"{emulator_url.rstrip('/')}/storage/v1/b?project={project}",
            data=json.dumps({"name": name}).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise


def main() -> None:
    """CLI: write a signing key file, optionally creating buckets on a running emulator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="where to write the key file (JSON)")
    parser.add_argument("--email", default=DEFAULT_EMAIL)
    parser.add_argument("--emulator", help="fake-gcs-server URL, e.g. http://127.0.0.1:4443")
    parser.add_argument("--project", default="workspace-local")
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()
    print(write_service_account_key(args.path, args.email, args.project))
    if args.emulator and args.bucket:
        create_buckets(args.emulator, args.project, *args.bucket)


if __name__ == "__main__":
    main()
