"""The ``Scanner`` contract: every scanner client passes the same tests (fsspec's way).

``ScannerContract`` holds the tests; each client is a subclass providing ``scanner``: direct
clamd (``ClamdScanner``, reading stored objects itself through the storage layer's pinned
reads) and the ClamAV front over HTTP (``HttpScanner``, whose front reads GCS on its own and
answers the SHA-256 and MIME type with the verdict). Both talk to the session's real clamd
with the project's test signatures; objects live on the session fake-gcs-server.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket

import pytest

from shared.errors import NotFound, PayloadTooLarge
from shared.models import ObjectRef
from shared.scanning.base import Scanner
from shared.scanning.clamd import ClamdScanner
from shared.scanning.http import HttpScanner
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.objects import GcsObjects
from tests.conftest import EICAR
from tests.scan_fixtures import PROJECT, MiB, put


def scan(scanner: Scanner, bucket: str, name: str, generation: int,
         max_bytes: int = 100 * MiB):
    return scanner.scan_object(ObjectRef(bucket, name, generation), name, max_bytes)


class ScannerContract:
    """What every scanner client promises."""

    def test_streams_give_verdicts(self, scanner):
        clean = scanner.scan_stream(io.BytesIO(b"just text"))
        assert not clean.infected and clean.bytes_scanned == 9
        infected = scanner.scan_stream(io.BytesIO(EICAR))
        assert infected.infected and "EICAR" in (infected.signature or "")
        assert scanner.ping() is True

    def test_sessions_are_fed_incrementally(self, scanner):
        with scanner.open_session() as session:
            for _ in range(300):
                session.feed(b"x" * 3333)
            session.feed(bytearray(EICAR[:30]))
            session.feed(memoryview(EICAR)[30:])
            verdict = session.finish()
        assert verdict.infected and verdict.bytes_scanned == 300 * 3333 + len(EICAR)

    def test_body_larger_than_the_socket_buffer(self, scanner):
        with socket.socket() as sock:
            buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        size = 48 * MiB
        assert size > 20 * buffer
        payload = os.urandom(size - len(EICAR)) + EICAR
        verdict = scanner.scan_stream(io.BytesIO(payload), chunk_size=4 * MiB)
        assert verdict.infected and verdict.bytes_scanned == size
        clean = scanner.scan_stream(io.BytesIO(payload[: -len(EICAR)]), chunk_size=MiB)
        assert not clean.infected and clean.bytes_scanned == size - len(EICAR)

    def test_gcs_objects_pinned_to_their_generation(self, scanner, bucket):
        bad = put(bucket, "incoming/ws/f/file.bin", os.urandom(3 * MiB) + EICAR)
        good = put(bucket, "incoming/ws/f/file.bin", os.urandom(3 * MiB))
        first = scan(scanner, bucket.name, "incoming/ws/f/file.bin", bad)
        assert first.verdict.infected and first.verdict.bytes_scanned == 3 * MiB + len(EICAR)
        second = scan(scanner, bucket.name, "incoming/ws/f/file.bin", good)
        assert not second.verdict.infected and second.verdict.bytes_scanned == 3 * MiB

    def test_object_scans_hash_and_sniff_in_the_same_pass(self, scanner, bucket):
        png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
        body = png + os.urandom(2 * MiB)
        generation = put(bucket, "incoming/ws/f/pic.bin", body)
        result = scan(scanner, bucket.name, "incoming/ws/f/pic.bin", generation)
        assert not result.verdict.infected
        assert result.facts.checksum == hashlib.sha256(body).hexdigest()
        assert result.facts.size_bytes == len(body)
        assert (result.facts.mime_type, result.facts.file_type) == ("image/png", "image")

    def test_gcs_object_gone_is_not_found(self, scanner, plain_bucket):
        old = put(plain_bucket, "x.txt", b"old")
        put(plain_bucket, "x.txt", EICAR)
        with pytest.raises(NotFound):
            scan(scanner, plain_bucket.name, "x.txt", old)
        with pytest.raises(NotFound):
            scan(scanner, plain_bucket.name, "never-there.txt", 1)

    def test_gcs_object_over_max_bytes(self, scanner, bucket):
        generation = put(bucket, "big.bin", b"q" * 5000)
        with pytest.raises(PayloadTooLarge):
            scan(scanner, bucket.name, "big.bin", generation, max_bytes=4999)
        assert scan(scanner, bucket.name, "big.bin", generation,
                    max_bytes=5000).verdict.bytes_scanned == 5000


class TestClamdScanner(ScannerContract):
    @pytest.fixture
    def scanner(self, clamd, fake_gcs) -> Scanner:
        objects = GcsObjects(GcsConnection(PROJECT, fake_gcs.url))
        return ClamdScanner("127.0.0.1", clamd.port, timeout=60,
                            objects=lambda ref, cap: objects.open(ref, cap))


class TestHttpScanner(ScannerContract):
    @pytest.fixture
    def scanner(self, front) -> Scanner:
        return HttpScanner(front.url, timeout=60)
