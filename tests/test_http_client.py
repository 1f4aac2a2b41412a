"""The ClamAV front's client (``HttpScanner``) against ``FakeFront``: what it sends (the
object to scan, the ID token on every request) and what it accepts back (a verdict with a
well-formed SHA-256 and MIME type, within the size asked for). The failures without a
verdict are in ``test_scanner_failures.py``; the real front in ``tests/scanfront/``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import socket
import time
from collections.abc import Iterator

import pytest
from google.auth import jwt

from shared.errors import BadRequest, NotFound, PayloadTooLarge, ScannerUnavailable
from shared.models import BlobFacts, ObjectRef
from shared.scanning import http
from shared.scanning.base import ObjectScan, Verdict
from shared.scanning.http import HttpScanner, IdTokens
from tests.fake_scanners import DIGEST_FAULTS, FakeFront
from tests.scan_fixtures import AUDIENCE, INVOKER

REF = ObjectRef("incoming-bkt", "incoming/ws_1/file_000001/a.txt", 1234567)
EMPTY_SHA = hashlib.sha256(b"").hexdigest()


class StaticTokens(IdTokens):
    """An ID token source with a fixed token (Google's own is exercised with the identity
    fake in ``tests/scanfront/test_http_scanner.py``)."""

    def __init__(self) -> None:
        super().__init__(AUDIENCE)

    def header(self) -> dict[str, str]:
        return {"Authorization": "Bearer static-token"}


@pytest.fixture
def front() -> Iterator[FakeFront]:
    fake = FakeFront("ok", object_size=4096).start()
    yield fake
    fake.stop()


def test_an_object_scan_names_the_generation_and_returns_the_digest(front) -> None:
    result = HttpScanner(front.url, timeout=5).scan_object(REF, "a.txt", 4096)
    assert front.objects == [{"bucket": "incoming-bkt", "name": REF.name,
                              "generation": 1234567, "filename": "a.txt"}]
    assert result == ObjectScan(Verdict(False, None, 4096),
                                BlobFacts(4096, EMPTY_SHA, "text/plain", "document"))


def test_an_object_larger_than_asked_is_refused(front) -> None:
    with pytest.raises(PayloadTooLarge, match=r"^the object is larger than 4095 bytes$") as info:
        HttpScanner(front.url, timeout=5).scan_object(REF, "a.txt", 4095)
    assert info.value.extra == {"max_bytes": 4095}


@pytest.mark.parametrize("fault", sorted(DIGEST_FAULTS))
def test_a_verdict_without_a_usable_digest_is_no_verdict(
        fault: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeFront(fault, object_size=10).start()
    try:
        with pytest.raises(ScannerUnavailable,
                           match=r"^virus scanner gave no checksum for the object$"):
            HttpScanner(fake.url, timeout=5).scan_object(REF, "a.txt", 100)
    finally:
        fake.stop()
    [message] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert message.startswith("virus scanner front gave no digest: {")
    assert len(message) == len("virus scanner front gave no digest: ") + 200  # cut at 200


def test_the_id_token_goes_with_every_request(front) -> None:
    scanner = HttpScanner(front.url, timeout=5, tokens=StaticTokens())
    assert scanner.ping() is True
    assert scanner.scan_stream(io.BytesIO(b"abc")).bytes_scanned == 3
    scanner.scan_object(REF, "a.txt", 4096)
    assert front.auth == [("/readyz", "Bearer static-token"), ("/scan", "Bearer static-token"),
                          ("/scan/gcs", "Bearer static-token")]
    plain = HttpScanner(front.url, timeout=5)  # http (local): no token at all
    assert plain.tokens is None and plain.ping() is True
    assert front.auth[-1] == ("/readyz", None)


def test_a_session_is_used_once() -> None:
    fake = FakeFront("ok").start()
    try:
        session = HttpScanner(fake.url, timeout=5).open_session()
        session.feed(b"once")
        assert session.finish() == Verdict(False, None, 4)
        with pytest.raises(AssertionError, match=r"^session is finished$"):
            session.finish()
        with pytest.raises(AssertionError, match=r"^session is finished$"):
            session.feed(b"more")
        aborted = HttpScanner(fake.url, timeout=5).open_session()
        aborted.feed(b"half")
        aborted.abort()
        with pytest.raises(AssertionError, match=r"^session is finished$"):
            aborted.finish()
    finally:
        fake.stop()


def test_google_id_tokens_are_bearer_headers(identity, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                       str(identity.service_account_key(tmp_path / "sa.json", INVOKER)))
    header = IdTokens(AUDIENCE).header()
    assert list(header) == ["Authorization"]
    assert re.fullmatch(r"Bearer [\w-]+\.[\w-]+\.[\w-]+", header["Authorization"])
    claims = jwt.decode(header["Authorization"].removeprefix("Bearer "), verify=False)
    assert claims["aud"] == AUDIENCE  # Cloud Run accepts only its own URL as audience


def test_no_id_token_is_named_and_logged(tmp_path, monkeypatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ScannerUnavailable,
                       match=r"^virus scanner unavailable \(no ID token\)$") as info:
        IdTokens(AUDIENCE).header()
    assert info.value.__cause__ is not None
    [message] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert message.startswith(f"no ID token for the scanner ({AUDIENCE}): ")
    assert str(info.value.__cause__) in message


FRONT_MESSAGES = {
    "status_500": "virus scanner unavailable", "status_401": "virus scanner unavailable",
    "status_403": "virus scanner unavailable",
    "status_500_clean": "virus scanner unavailable",  # a 500 is never a verdict
    "no_verdict": "virus scanner could not scan the file",
    "verdict_error": "virus scanner could not scan the file",
    "wrong_count": "virus scanner saw a different byte count",
    "drop_mid_body": "virus scanner connection lost",
}


@pytest.mark.parametrize("mode", sorted(FRONT_MESSAGES))
def test_each_failure_says_what_happened(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeFront(mode).start()
    try:
        with pytest.raises(ScannerUnavailable, match=f"^{re.escape(FRONT_MESSAGES[mode])}$"):
            HttpScanner(fake.url, timeout=5).scan_stream(io.BytesIO(b"some bytes"))
    finally:
        fake.stop()
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    if mode in ("status_401", "status_403"):
        assert logged == [f"the virus scanner front refused our ID token ({mode[-3:]}): "
                          "the front is unwell"]
    if mode == "status_500":
        assert logged == ["virus scanner front answered 500: the front is unwell"]
    if mode == "no_verdict":  # the body, cut at 200 characters
        [message] = logged
        assert message == "virus scanner front gave no verdict: " + str(
            {"bytes_scanned": 10, "sha256": hashlib.sha256(b"some bytes").hexdigest(),
             "mime_type": "text/plain", "note": "n" * 200})[:200]
    if mode == "wrong_count":
        assert logged == ["virus scanner front scanned 9 bytes of 10"]
    if mode == "drop_mid_body":
        [message] = logged
        assert message.startswith("virus scanner front connection failed: ('Connection ")


@pytest.mark.parametrize("mode,error,message", [
    ("status_404", NotFound, "the front is unwell"),
    ("status_404_bare", NotFound, "object not found at that generation"),
    ("status_413", PayloadTooLarge, "the front is unwell"),
    ("status_413_bare", PayloadTooLarge, "file exceeds the scanner's limit"),
    ("status_400", BadRequest, "the front is unwell"),
    ("status_400_bare", BadRequest, "the scanner refused the request"),
])
def test_the_fronts_own_refusals_keep_their_meaning(mode: str, error: type[Exception],
                                                   message: str) -> None:
    fake = FakeFront(mode, object_size=10).start()
    try:
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            HttpScanner(fake.url, timeout=5).scan_object(REF, "a.txt", 100)
    finally:
        fake.stop()


def test_google_id_tokens_are_cached_until_near_expiry(identity, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                       str(identity.service_account_key(tmp_path / "sa.json", INVOKER)))
    before = identity.token_requests
    tokens = IdTokens(AUDIENCE)
    assert tokens.header() == tokens.header()  # an hour left: the cached one
    assert identity.token_requests == before + 1
    monkeypatch.setattr(identity, "token_lifetime", 299)  # inside the five-minute margin
    short = IdTokens(AUDIENCE)
    assert short.header() != short.header()  # each one is already due for renewal
    assert identity.token_requests == before + 3


def test_an_unreachable_front(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeFront("ok").start()
    fake.stop()  # nothing listens there any more
    scanner = HttpScanner(fake.url, timeout=5)
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable, match=r"^virus scanner unavailable$") as info:
        scanner.scan_object(REF, "a.txt", 100)
    assert info.value.__cause__ is not None
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert logged == [f"virus scanner front unreachable: {info.value.__cause__}"]


@pytest.mark.parametrize("mode,message", [
    ("not_json", "virus scanner could not scan the file"),  # a 200 page, not the front's JSON
    ("json_list", "virus scanner unavailable"),  # JSON, but not an object
])
def test_a_200_that_is_not_a_verdict_object(mode: str, message: str) -> None:
    fake = FakeFront(mode).start()
    try:
        with pytest.raises(ScannerUnavailable, match=f"^{message}$"):
            HttpScanner(fake.url, timeout=5).scan_stream(io.BytesIO(b"some bytes"))
    finally:
        fake.stop()


def test_an_infected_verdict_keeps_its_signature_or_says_unknown() -> None:
    fake = FakeFront("found").start()
    try:
        scanner = HttpScanner(fake.url, timeout=5)
        assert scanner.scan_stream(io.BytesIO(b"eicar")) == Verdict(True, "Fake.Signature", 5)
        fake.mode = "found_unnamed"
        assert scanner.scan_stream(io.BytesIO(b"eicar")) == Verdict(True, "unknown", 5)
        # Each scan is one octet-stream on a connection of its own (never reused mid-body).
        assert [(h["content-type"], h["connection"].lower()) for h in fake.headers] == [
            ("application/octet-stream", "close")] * 2
    finally:
        fake.stop()


@pytest.mark.parametrize("mode,error,message", [
    ("status_413_early", PayloadTooLarge, "file exceeds the scanner's limit (early)"),
    ("drop_mid_body", ScannerUnavailable, "virus scanner connection lost"),
])
def test_a_request_that_ends_before_its_body_stops_the_feed(
        mode: str, error: type[Exception], message: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The front answers (413) or hangs up mid-body: the next ``feed`` raises, not ``finish``."""
    fake = FakeFront(mode).start()
    session = HttpScanner(fake.url, timeout=5).open_session()
    try:
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            for _ in range(2000):  # far more than the queue holds: the request ends first
                session.feed(b"x" * 65536)
        with pytest.raises(AssertionError, match=r"^session is finished$"):
            session.finish()
    finally:
        session.abort()
        fake.stop()
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    if mode == "drop_mid_body":
        [line] = logged
        assert line.startswith("virus scanner front connection failed: ('Connection ")


def test_an_https_front_gets_id_tokens_for_its_own_url() -> None:
    scanner = HttpScanner("https://127.0.0.1:9/", timeout=5)  # nothing listens on port 9
    assert isinstance(scanner.tokens, IdTokens)
    assert scanner.tokens.audience == "https://127.0.0.1:9"  # the URL, without the slash
    static = HttpScanner("https://127.0.0.1:9", timeout=5, tokens=StaticTokens())
    assert static.ping() is False
    with pytest.raises(ScannerUnavailable, match=r"^virus scanner unavailable$"):
        static.scan_object(REF, "a.txt", 100)


def test_a_front_that_never_finishes_answering_is_cut_off(monkeypatch) -> None:
    """Each byte of the answer comes within the read timeout, but the whole answer takes
    longer than the session allows (``CONNECT_TIMEOUT`` + twice the timeout): 503, not a
    verdict that arrives whenever the front likes."""
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 1.0)  # the backstop: 1 + 2 * 1 = 3 s
    fake = FakeFront("trickle").start()
    try:
        with pytest.raises(ScannerUnavailable, match=r"^virus scanner timed out$") as info:
            HttpScanner(fake.url, timeout=1).scan_stream(io.BytesIO(b"some bytes"))
        assert isinstance(info.value.__cause__, TimeoutError)
    finally:
        fake.stop()


def test_a_front_that_accepts_and_never_answers() -> None:
    """Connected, never a byte back: each call gives up after its read timeout."""
    with socket.socket() as listener:  # the kernel accepts; nobody ever reads or answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        scanner = HttpScanner(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=1)
        with pytest.raises(ScannerUnavailable, match=r"^virus scanner unavailable$"):
            scanner.scan_object(REF, "a.txt", 100)
        with pytest.raises(ScannerUnavailable, match=r"^virus scanner connection lost$"):
            scanner.scan_stream(io.BytesIO(b"some bytes"))  # before the 12 s backstop
        assert scanner.ping() is False  # /readyz's own 5 s


def test_a_caller_that_stalls_mid_body_loses_the_scan() -> None:
    """The body ends after ``timeout`` seconds without a chunk: the front is not held open
    by an upload that stopped, and the session cannot be resumed into a verdict."""
    fake = FakeFront("ok").start()
    try:
        session = HttpScanner(fake.url, timeout=1).open_session()
        session.feed(b"first half")
        time.sleep(3)  # the caller stalls for three times the timeout
        with pytest.raises(ScannerUnavailable, match=r"^virus scanner connection lost$"):
            session.feed(b"second half")
            session.finish()
        session.abort()
    finally:
        fake.stop()
