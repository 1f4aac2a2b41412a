"""``HttpScanner`` (the Scanner interface over the ClamAV front) against the real front process.

The shared cases run on both ways the service reaches clamd: ``clamd`` (direct, with the base
class's ``scan_object`` streaming the object itself) and ``http`` (the front, which reads
GCS on its own and answers the SHA-256 and MIME type with the verdict). Then the HTTP
client's own concerns: outages and timeouts become ``ScannerUnavailable``, the front's 413
and 404 keep their meaning, ID tokens are fetched, sent and cached, and the factory picks
the front when ``CLAMAV_SERVICE_URL`` is set.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from shared import factory
from shared.config import Settings
from shared.errors import ConfigError, NotFound, PayloadTooLarge, ScannerUnavailable
from shared.models import ObjectRef
from shared.scanning.base import Scanner
from shared.scanning.clamd import ClamdScanner
from shared.scanning.http import HttpScanner, IdTokens
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.objects import GcsObjects
from tests.conftest import EICAR, storage_snapshot
from tests.scanfront.conftest import AUDIENCE, INVOKER, PROJECT, MiB, put

# -- the same behaviour through direct clamd and through the front -------------------------


@pytest.fixture(params=["clamd", "http"])
def scanner(request, clamd, front, fake_gcs) -> Scanner:
    if request.param == "http":
        return HttpScanner(front.url, timeout=60)
    # Direct clamd reads the objects itself, through the storage layer's pinned reads.
    objects = GcsObjects(GcsConnection(PROJECT, fake_gcs.url))
    return ClamdScanner("127.0.0.1", clamd.port, timeout=60,
                        objects=lambda ref, cap: objects.open(ref, cap))


def scan(scanner: Scanner, bucket: str, name: str, generation: int,
         max_bytes: int = 100 * MiB):
    return scanner.scan_object(ObjectRef(bucket, name, generation), name, max_bytes)


def test_streams_give_verdicts(scanner):
    clean = scanner.scan_stream(io.BytesIO(b"just text"))
    assert not clean.infected and clean.bytes_scanned == 9
    infected = scanner.scan_stream(io.BytesIO(EICAR))
    assert infected.infected and "EICAR" in (infected.signature or "")
    assert scanner.ping() is True


def test_sessions_are_fed_incrementally(scanner):
    with scanner.open_session() as session:
        for _ in range(300):
            session.feed(b"x" * 3333)
        session.feed(bytearray(EICAR[:30]))
        session.feed(memoryview(EICAR)[30:])
        verdict = session.finish()
    assert verdict.infected and verdict.bytes_scanned == 300 * 3333 + len(EICAR)


def test_body_larger_than_the_socket_buffer(scanner):
    with socket.socket() as sock:
        buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    size = 48 * MiB
    assert size > 20 * buffer
    payload = os.urandom(size - len(EICAR)) + EICAR
    verdict = scanner.scan_stream(io.BytesIO(payload), chunk_size=4 * MiB)
    assert verdict.infected and verdict.bytes_scanned == size
    clean = scanner.scan_stream(io.BytesIO(payload[: -len(EICAR)]), chunk_size=MiB)
    assert not clean.infected and clean.bytes_scanned == size - len(EICAR)


def test_gcs_objects_pinned_to_their_generation(scanner, bucket):
    bad = put(bucket, "incoming/ws/f/file.bin", os.urandom(3 * MiB) + EICAR)
    good = put(bucket, "incoming/ws/f/file.bin", os.urandom(3 * MiB))
    first = scan(scanner, bucket.name, "incoming/ws/f/file.bin", bad)
    assert first.verdict.infected and first.verdict.bytes_scanned == 3 * MiB + len(EICAR)
    second = scan(scanner, bucket.name, "incoming/ws/f/file.bin", good)
    assert not second.verdict.infected and second.verdict.bytes_scanned == 3 * MiB


def test_object_scans_hash_and_sniff_in_the_same_pass(scanner, bucket):
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
    body = png + os.urandom(2 * MiB)
    generation = put(bucket, "incoming/ws/f/pic.bin", body)
    result = scan(scanner, bucket.name, "incoming/ws/f/pic.bin", generation)
    assert not result.verdict.infected
    assert result.facts.checksum == hashlib.sha256(body).hexdigest()
    assert result.facts.size_bytes == len(body)
    assert (result.facts.mime_type, result.facts.file_type) == ("image/png", "image")


def test_gcs_object_gone_is_not_found(scanner, plain_bucket):
    old = put(plain_bucket, "x.txt", b"old")
    put(plain_bucket, "x.txt", EICAR)
    with pytest.raises(NotFound):
        scan(scanner, plain_bucket.name, "x.txt", old)
    with pytest.raises(NotFound):
        scan(scanner, plain_bucket.name, "never-there.txt", 1)


def test_gcs_object_over_max_bytes(scanner, bucket):
    generation = put(bucket, "big.bin", b"q" * 5000)
    with pytest.raises(PayloadTooLarge):
        scan(scanner, bucket.name, "big.bin", generation, max_bytes=4999)
    assert scan(scanner, bucket.name, "big.bin", generation,
                max_bytes=5000).verdict.bytes_scanned == 5000


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
