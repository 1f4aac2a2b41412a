"""The clamd scanner against a real clamd: verdicts, large streams, limits and outages."""

from __future__ import annotations

import io
import os
import socket

import pytest

from localdev.clamd import ClamdProcess, free_port
from shared.errors import PayloadTooLarge, ScannerUnavailable
from shared.scanning.clamd import ClamdScanner
from tests.conftest import EICAR

MiB = 1024 * 1024


def _socket_send_buffer() -> int:
    with socket.socket() as sock:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)


def test_clean_and_infected_verdicts(clamd):
    scanner = ClamdScanner("127.0.0.1", clamd.port)
    clean = scanner.scan_stream(io.BytesIO(b"just text"))
    assert not clean.infected and clean.bytes_scanned == 9
    infected = scanner.scan_stream(io.BytesIO(EICAR))
    assert infected.infected
    assert "EICAR" in (infected.signature or "")


def test_stream_larger_than_socket_buffer_arrives_whole(clamd):
    """pyclamd's bare ``send`` may drop the tail of a frame; the wrapper must not.

    The signature sits at the very end of a stream many times the socket buffer, sent in
    4 MiB frames: clamd only finds it if every byte of every frame arrived.
    """
    size = 48 * MiB
    assert size > 20 * _socket_send_buffer()
    payload = os.urandom(size - len(EICAR)) + EICAR
    scanner = ClamdScanner("127.0.0.1", clamd.port)
    verdict = scanner.scan_stream(io.BytesIO(payload), chunk_size=4 * MiB)
    assert verdict.infected, "the signature at the end of the stream was not seen"
    assert verdict.bytes_scanned == size
    clean = scanner.scan_stream(io.BytesIO(payload[: -len(EICAR)]), chunk_size=4 * MiB)
    assert not clean.infected and clean.bytes_scanned == size - len(EICAR)


def test_sessions_are_fed_incrementally(clamd):
    scanner = ClamdScanner("127.0.0.1", clamd.port)
    with scanner.open_session() as session:
        for _ in range(10):
            session.feed(b"x" * 100_000)
        session.feed(EICAR[:30])
        session.feed(EICAR[30:])
        verdict = session.finish()
    assert verdict.infected and verdict.bytes_scanned == 1_000_000 + len(EICAR)


def test_a_submitted_stream_is_scanned_while_the_caller_works(clamd):
    """``submit`` ends the stream and returns at once; ``finish`` reads the verdict, for a
    clean and an infected stream. A second ``submit`` changes nothing."""
    scanner = ClamdScanner("127.0.0.1", clamd.port)
    for payload, infected in ((b"clean text", False), (EICAR, True)):
        with scanner.open_session() as session:
            session.feed(payload)
            session.submit()
            session.submit()
            verdict = session.finish()
        assert verdict.infected is infected and verdict.bytes_scanned == len(payload)


def test_unreachable_scanner_raises_and_pings_false():
    scanner = ClamdScanner("127.0.0.1", free_port(), timeout=2)
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable):
        scanner.open_session()


@pytest.mark.parametrize("then", ["feeds more", "ends the stream"])
def test_clamd_killed_mid_stream_raises(tmp_path, then):
    """clamd dies mid-stream; whether the upload goes on feeding or ends the stream with
    ``submit`` (whose send error surfaces in ``finish``), there is no verdict."""
    proc = ClamdProcess(tmp_path).start()
    scanner = ClamdScanner("127.0.0.1", proc.port, timeout=5)
    session = scanner.open_session()
    session.feed(b"a" * MiB)
    proc.stop()
    with pytest.raises(ScannerUnavailable):
        if then == "feeds more":
            for _ in range(64):
                session.feed(b"b" * MiB)
        else:
            session.submit()
        session.finish()
    assert scanner.ping() is False


def test_stream_over_clamd_limit_is_payload_too_large(tmp_path):
    proc = ClamdProcess(tmp_path, max_file_mb=1).start()  # StreamMaxLength 9M
    try:
        scanner = ClamdScanner("127.0.0.1", proc.port, timeout=10)
        with pytest.raises(PayloadTooLarge):
            scanner.scan_stream(io.BytesIO(b"z" * (12 * MiB)), chunk_size=MiB)
    finally:
        proc.stop()
