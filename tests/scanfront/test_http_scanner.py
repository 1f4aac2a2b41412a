"""``HttpScanner`` (the Scanner interface over the ClamAV front): the HTTP client's own concerns.

What every scanner promises runs on both clients in ``tests/contract/test_scanner.py``. Here:
outages and timeouts become ``ScannerUnavailable``, the front's 413 and 404 keep their
meaning, ID tokens are fetched, sent and cached, and the factory picks the front when
``CLAMAV_SERVICE_URL`` is set.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path

import pytest

from shared import factory
from shared.config import Settings
from shared.errors import ConfigError, PayloadTooLarge, ScannerUnavailable
from shared.models import ObjectRef
from shared.scanning.base import Scanner
from shared.scanning.clamd import ClamdScanner
from shared.scanning.http import HttpScanner, IdTokens
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.objects import GcsObjects
from tests.conftest import EICAR, storage_snapshot
from tests.scan_fixtures import AUDIENCE, INVOKER, PROJECT, MiB, put


def scan(scanner: Scanner, bucket: str, name: str, generation: int,
         max_bytes: int = 100 * MiB):
    return scanner.scan_object(ObjectRef(bucket, name, generation), name, max_bytes)


# -- the HTTP client's failure modes ---------------------------------------------------------


def test_clamd_killed_makes_the_front_scanner_unavailable(outage, bucket):
    scanner = HttpScanner(outage.front.url, timeout=30)
    generation = put(bucket, "o.bin", b"data")
    assert scanner.scan_stream(io.BytesIO(b"ok")).bytes_scanned == 2
    outage.clamd.kill()
    with pytest.raises(ScannerUnavailable):
        scanner.scan_stream(io.BytesIO(b"z" * (3 * MiB)))
    with pytest.raises(ScannerUnavailable):
        scan(scanner, bucket.name, "o.bin", generation)
    assert scanner.ping() is False


def test_front_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        scanner = HttpScanner(f"http://127.0.0.1:{port}", timeout=5)
        assert scanner.ping() is False
        with pytest.raises(ScannerUnavailable):
            scanner.scan_stream(io.BytesIO(b"a" * MiB))
        with pytest.raises(ScannerUnavailable):
            scan(scanner, "bucket", "name", 1)


def test_front_killed_mid_stream(outage):
    scanner = HttpScanner(outage.front.url, timeout=30)
    session = scanner.open_session()
    session.feed(b"a" * MiB)
    outage.front.kill()
    with pytest.raises(ScannerUnavailable):
        for _ in range(200):
            session.feed(b"b" * MiB)
        session.finish()
    session.abort()


def test_a_front_that_never_answers_times_out():
    """A listener that accepts and then says nothing: the scan fails within its timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        scanner = HttpScanner(url, timeout=2, queue_chunks=2)
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable):
            scanner.scan_stream(io.BytesIO(b"c" * (64 * MiB)), chunk_size=MiB)
        assert time.monotonic() - started < 30
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable):
            scan(scanner, "bucket", "name", 1)
        assert time.monotonic() - started < 30


def test_front_limit_is_payload_too_large(small_front):
    scanner = HttpScanner(small_front.url, timeout=30)
    with pytest.raises(PayloadTooLarge):
        scanner.scan_stream(io.BytesIO(b"z" * (8 * MiB)), chunk_size=MiB)
    assert scanner.scan_stream(io.BytesIO(b"z" * MiB)).bytes_scanned == MiB


def test_abort_mid_stream_leaves_the_front_healthy(front):
    scanner = HttpScanner(front.url, timeout=30)
    before = threading.active_count()
    for _ in range(5):
        session = scanner.open_session()
        session.feed(b"partial" * 1000)
        session.abort()
        session.abort()  # twice: still never raises
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before, "aborted sessions left threads behind"
    assert scanner.scan_stream(io.BytesIO(EICAR)).infected


def test_a_submitted_stream_gets_its_verdict(front):
    """``submit`` ends the chunked body at once (the front scans while the caller works);
    ``finish`` then waits for the verdict. A second ``submit`` changes nothing."""
    scanner = HttpScanner(front.url, timeout=30)
    for payload, infected in ((b"clean text" * 100, False), (EICAR, True)):
        session = scanner.open_session()
        session.feed(payload)
        session.submit()
        session.submit()
        verdict = session.finish()
        assert verdict.infected is infected and verdict.bytes_scanned == len(payload)


# -- ID tokens ---------------------------------------------------------------------------


def test_id_tokens_are_fetched_sent_and_cached(auth_front, identity, tmp_path, monkeypatch):
    key = identity.service_account_key(tmp_path / "sa.json", INVOKER)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    before = identity.token_requests
    scanner = HttpScanner(auth_front.url, timeout=30, tokens=IdTokens(AUDIENCE))
    assert scanner.scan_stream(io.BytesIO(EICAR)).infected
    assert not scanner.scan_stream(io.BytesIO(b"fine")).infected
    assert identity.token_requests == before + 1, "the token was not cached"

    without = HttpScanner(auth_front.url, timeout=30)  # http: no token is attached
    assert without.tokens is None
    with pytest.raises(ScannerUnavailable):  # the front's 401 is an outage for the caller
        without.scan_stream(io.BytesIO(b"fine"))
    assert HttpScanner("https://clamav-x.a.run.app").tokens is not None


def test_a_token_near_expiry_is_replaced(identity, tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                       str(identity.service_account_key(tmp_path / "sa.json", INVOKER)))
    monkeypatch.setattr(identity, "token_lifetime", 120)  # inside the five-minute margin
    tokens = IdTokens(AUDIENCE)
    before = identity.token_requests
    first, second = tokens.header(), tokens.header()
    assert identity.token_requests == before + 2 and first != second


def test_no_credentials_is_scanner_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ScannerUnavailable):
        IdTokens(AUDIENCE).header()


# -- wiring ------------------------------------------------------------------------------


def test_factory_uses_the_front_when_a_url_is_set(env, monkeypatch):
    monkeypatch.setenv("CLAMAV_SERVICE_URL", "https://clamav-abc.a.run.app/")
    factory.reset()
    built = factory.scanner()
    assert isinstance(built, HttpScanner) and built.url == "https://clamav-abc.a.run.app"
    monkeypatch.setenv("CLAMAV_SERVICE_URL", "")
    factory.reset()
    assert isinstance(factory.scanner(), ClamdScanner)
    monkeypatch.setenv("CLAMAV_SERVICE_URL", "ftp://nope")
    with pytest.raises(ConfigError):
        Settings.from_env()
    monkeypatch.setenv("CLAMAV_SERVICE_URL", "http://clamav.internal")
    monkeypatch.setenv("K_SERVICE", "files")
    monkeypatch.setenv("AUTH_MODE", "firebase")
    monkeypatch.setenv("FIREBASE_PROJECT_ID", "p")
    with pytest.raises(ConfigError, match="https"):  # no ID token would be sent
        Settings.from_env()


def test_uploads_are_scanned_through_the_front(api, front, env, monkeypatch):
    """The inline upload path with ``CLAMAV_SERVICE_URL``: the front judges the bytes."""
    monkeypatch.setenv("CLAMAV_SERVICE_URL", front.url)
    monkeypatch.setenv("CLAMAV_SERVICE_PORT", "1")  # direct clamd would fail: proof of route
    factory.reset()
    assert isinstance(factory.scanner(), HttpScanner)
    created = api.upload(b"a clean report\n", "report.txt")
    assert created.status_code == 201, created.data
    storage = Path(env["WORKSPACE_STORAGE_DIR"])
    before = storage_snapshot(storage)
    rejected = api.upload(EICAR, "eicar.txt")
    assert rejected.status_code == 422 and "EICAR" in rejected.get_json()["signature"]
    assert storage_snapshot(storage) == before


def test_direct_reader_needs_no_bucket_setting(fake_gcs, bucket):
    """``GcsObjects`` reads any bucket the credentials can (the incoming one, mostly)."""
    generation = put(bucket, "n.txt", b"abc")
    source = GcsObjects(GcsConnection(PROJECT, fake_gcs.url))
    with source.open(ObjectRef(bucket.name, "n.txt", generation)) as stream:
        assert stream.read() == b"abc"
