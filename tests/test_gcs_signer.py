"""``GcsSigner`` below the blob store: lifetimes, create-only PUT conditions, and which
credentials sign (a key file, against the emulator's endpoint when emulated; otherwise IAM
with the runtime account), each refusal with its reason. No server is needed: V4 signing is
local computation (IAM's signBlob is replaced by the key's own signature, as in
``test_gcs_store.test_iam_signing_uses_the_runtime_account_and_token``).
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import google.auth
import google.auth.credentials
import pytest
from google.auth.transport.requests import Request
from google.cloud.storage import _signing
from google.oauth2 import service_account

from localdev.gcs_keys import public_key_pem, write_service_account_key
from shared.errors import BadRequest, ConfigError
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.signing import MAX_SIGNED_TTL, GcsSigner, expiry_of
from tests.test_gcs_store import verify_v4

EMULATOR = "http://127.0.0.1:4443"


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_service_account_key(tmp_path_factory.mktemp("signer") / "sa.json")


@pytest.fixture
def signer(key_file: Path) -> GcsSigner:
    return GcsSigner(GcsConnection("proj", EMULATOR), str(key_file))


def test_a_key_file_signs_for_the_emulators_endpoint(signer: GcsSigner, key_file: Path) -> None:
    url = signer.sign("bkt", "a/b.txt", 60, method="GET")
    assert url.startswith(f"{EMULATOR}/bkt/a/b.txt?")
    params = verify_v4(url, "GET", {}, public_key_pem(str(key_file)))
    assert params["X-Goog-Expires"] == "60"


def test_lifetimes_run_from_one_second_to_seven_days(signer: GcsSigner) -> None:
    assert MAX_SIGNED_TTL == 7 * 24 * 3600
    signer.sign("bkt", "x", 1)
    longest = signer.sign("bkt", "x", MAX_SIGNED_TTL)
    assert expiry_of(longest) - time.time() == pytest.approx(MAX_SIGNED_TTL, abs=30)
    for ttl in (0, -5, MAX_SIGNED_TTL + 1):
        with pytest.raises(BadRequest, match=exactly(
                "a signed URL lives between 1 and 604800 seconds")):
            signer.sign("bkt", "x", ttl)


def test_signed_puts_are_create_only_and_sized(signer: GcsSigner, key_file: Path) -> None:
    upload = signer.signed_put("bkt", "incoming/a.txt", "text/plain", 0, 120)  # empty is fine
    assert upload.headers == {"Content-Type": "text/plain",
                              "x-goog-content-length-range": "0,0",
                              "x-goog-if-generation-match": "0"}
    params = verify_v4(upload.url, "PUT", upload.headers, public_key_pem(str(key_file)))
    assert params["X-Goog-SignedHeaders"] == (
        "content-type;host;x-goog-content-length-range;x-goog-if-generation-match")
    assert upload.expires == expiry_of(upload.url)
    refusal = exactly("a signed upload needs a content type and a size")
    with pytest.raises(BadRequest, match=refusal):
        signer.signed_put("bkt", "x", "text/plain", -1, 120)
    with pytest.raises(BadRequest, match=refusal):
        signer.signed_put("bkt", "x", "", 5, 120)


def test_expiry_is_read_in_utc_whatever_the_local_zone(
        signer: GcsSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    url = signer.sign("bkt", "x", 300)
    expected = expiry_of(url)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert expiry_of(url) == expected
        assert expected - time.time() == pytest.approx(300, abs=30)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_key_file_and_emulator_refusals(tmp_path: Path) -> None:
    emulated = GcsConnection("proj", EMULATOR)
    with pytest.raises(ConfigError, match=exactly(
            "signing against the emulator needs GCS_SIGNING_KEY_FILE "
            "(localdev/gcs_keys.py writes one)")):
        GcsSigner(emulated).sign("bkt", "x", 60)
    (tmp_path / "bad.json").write_text("{not a key")
    for path in (tmp_path / "bad.json", tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match=exactly(
                "GCS_SIGNING_KEY_FILE is not a readable service-account key")):
            GcsSigner(emulated, str(path)).sign("bkt", "x", 60)


class Runtime(google.auth.credentials.Credentials):
    """The metadata server's credentials: an email only once refreshed (or never)."""

    def __init__(self, email_after_refresh: str | None) -> None:
        super().__init__()
        self.email_after_refresh = email_after_refresh
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        assert isinstance(request, Request)  # a real transport, as google-auth needs
        self.refreshes += 1
        self.token = "ya29.runtime"
        if self.email_after_refresh is not None:
            self.service_account_email = self.email_after_refresh


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch, key_file: Path) -> list[str]:
    """IAM signBlob, answered with the local key; the emails it was asked to sign as."""
    local = service_account.Credentials.from_service_account_file(str(key_file))
    emails: list[str] = []

    def sign_blob(message: Any, access_token: str, service_account_email: str,
                  universe_domain: str = "googleapis.com") -> str:
        assert access_token == "ya29.runtime"
        emails.append(service_account_email)
        data = message if isinstance(message, bytes) else str(message).encode()
        return base64.b64encode(local.sign_bytes(data)).decode()

    monkeypatch.setattr(_signing, "_sign_message", sign_blob)
    return emails


def runtime_signer(monkeypatch: pytest.MonkeyPatch, credentials: Runtime,
                   email: str | None = None) -> GcsSigner:
    monkeypatch.setattr(google.auth, "default", lambda scopes=None, **kw: (credentials, "p"))
    conn = GcsConnection("proj", "")
    return GcsSigner(conn, "", email) if email is not None else GcsSigner(conn)


def test_iam_signs_as_the_runtime_account(monkeypatch: pytest.MonkeyPatch,
                                         iam: list[str]) -> None:
    credentials = Runtime("fn@proj.iam.gserviceaccount.com")
    url = runtime_signer(monkeypatch, credentials).sign("bkt", "x", 60)
    assert url.startswith("https://storage.googleapis.com/bkt/x?")
    assert iam == ["fn@proj.iam.gserviceaccount.com"] and credentials.refreshes == 1


@pytest.mark.parametrize("email_after_refresh", ["default", None, ""])
def test_iam_without_a_real_account_is_refused(monkeypatch: pytest.MonkeyPatch,
                                              iam: list[str],
                                              email_after_refresh: str | None) -> None:
    signer = runtime_signer(monkeypatch, Runtime(email_after_refresh))
    with pytest.raises(ConfigError, match=exactly(
            "set GCS_SIGNING_SERVICE_ACCOUNT to sign URLs with IAM")):
        signer.sign("bkt", "x", 60)
    assert iam == []
    pinned = runtime_signer(monkeypatch, Runtime(email_after_refresh),
                            email="signer@proj.iam.gserviceaccount.com")
    pinned.sign("bkt", "x", 60)
    assert iam == ["signer@proj.iam.gserviceaccount.com"]
