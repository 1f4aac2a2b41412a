"""Fail closed: every way a scanner can fail to give a verdict, on both clients and every ingress.

The scanners are ``FakeClamd`` and ``FakeFront`` (``tests/fake_scanners.py``): real servers
speaking clamd's INSTREAM protocol and the front's HTTP API, failing on purpose.

- clamd: an ``ERROR`` reply, an empty reply, the connection closed mid-stream, a malformed
  reply, no reply before the timeout;
- the front: a non-200, a 200 without a verdict, a verdict of ``error``, a wrong
  ``bytes_scanned``, the connection lost mid-body.

Each is "no verdict", never "clean": the client raises ``ScannerUnavailable``; an inline
upload and a media input answer 503 and store nothing; the finalize handler raises (the
event is redelivered) or quarantines, the record is never ``ready`` and nothing reaches the
files bucket.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import factory
from shared.errors import PayloadTooLarge, ScannerUnavailable
from shared.scanning.base import Verdict
from shared.scanning.clamd import ClamdScanner
from shared.scanning.http import HttpScanner
from tests.conftest import API, storage_snapshot
from tests.direct_fixtures import Landing
from tests.fake_scanners import CLAMD_MODES, ERROR_REPLY, FRONT_MODES, FakeClamd, FakeFront

PAYLOAD = b"scan me, or refuse me\n" * 5000  # ~110 KB: several frames and chunks
CASES = [("clamd", mode) for mode in CLAMD_MODES] + [("front", mode) for mode in FRONT_MODES]


@pytest.fixture
def broken(request: pytest.FixtureRequest,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClamd | FakeFront]:
    """The process configured (env + factory) for the failing scanner named by the param."""
    kind, mode = request.param
    fake: FakeClamd | FakeFront
    if kind == "clamd":
        fake = FakeClamd(mode).start()
        monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(fake.port))
        monkeypatch.setenv("CLAMAV_SERVICE_URL", "")
    else:
        fake = FakeFront(mode, object_size=len(PAYLOAD)).start()
        monkeypatch.setenv("CLAMAV_SERVICE_URL", fake.url)
    monkeypatch.setenv("CLAMAV_TIMEOUT_SECONDS", "1")
    factory.reset()
    yield fake
    fake.stop()
    factory.reset()


def _ids(case: tuple[str, str]) -> str:
    return "-".join(case)


# -- the clients --------------------------------------------------------------------------


def test_the_fakes_speak_the_real_protocols() -> None:
    """Answering properly, both fakes give verdicts: the failures below are theirs alone."""
    clamd = FakeClamd("ok").start()
    front = FakeFront("ok").start()
    try:
        verdict = ClamdScanner("127.0.0.1", clamd.port, timeout=5).scan_stream(
            io.BytesIO(PAYLOAD), chunk_size=32768)
        assert not verdict.infected and clamd.bytes_seen == len(PAYLOAD)
        clamd.mode = "found"
        found = ClamdScanner("127.0.0.1", clamd.port, timeout=5).scan_stream(io.BytesIO(b"x"))
        assert found.infected and found.signature == "Fake.Signature"
        http = HttpScanner(front.url, timeout=5).scan_stream(io.BytesIO(PAYLOAD),
                                                             chunk_size=32768)
        assert not http.infected and http.bytes_scanned == len(PAYLOAD)
    finally:
        clamd.stop()
        front.stop()


CLAMD_MESSAGES = {
    "error": "virus scanner could not scan the file",
    "empty": "virus scanner gave no answer",
    "close_mid": "virus scanner connection lost",  # a reset mid-stream, never a clean end
    "malformed": "virus scanner gave a malformed answer",
    "stall": "virus scanner connection lost",
}


@pytest.mark.parametrize("mode", CLAMD_MODES)
def test_clamd_client_fails_closed(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeClamd(mode).start()
    try:
        scanner = ClamdScanner("127.0.0.1", fake.port, timeout=1)
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable, match=f"^{CLAMD_MESSAGES[mode]}$") as info:
            scanner.scan_stream(io.BytesIO(PAYLOAD), chunk_size=32768)
        assert time.monotonic() - started < 15  # the 1 s timeout holds: no endless wait
        assert fake.connections == 1
    finally:
        fake.stop()
    if mode == "error":  # logged, cut to 200 characters of clamd's reply
        reply = ERROR_REPLY.decode().strip()
        assert f"clamd returned an error verdict: {reply[:200]}" in [
            r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    if mode == "stall":  # the cause stays attached for the logs
        assert isinstance(info.value.__cause__, OSError)


def test_clamd_sessions_close_their_connection() -> None:
    fake = FakeClamd("ok").start()
    try:
        scanner = ClamdScanner("127.0.0.1", fake.port, timeout=5)
        session = scanner.open_session()
        session.feed(b"half an upload")
        session.abort()  # the upload failed: the connection must not linger
        # Every conversation the session opened (VERSION for the scan record, then
        # INSTREAM) is over: none lingers.
        deadline = time.monotonic() + 5
        while ((fake.connections < 1 or fake.ended < fake.started)
               and time.monotonic() < deadline):
            time.sleep(0.02)
        assert fake.connections == 1 and fake.ended == fake.started
        session.abort()  # twice: nothing happens
    finally:
        fake.stop()
    with pytest.raises(ScannerUnavailable, match=r"^virus scanner unavailable$"):
        scanner.open_session()  # nothing listens there any more


def test_clamd_ping_gives_up_quickly_on_a_wedged_clamd() -> None:
    """A clamd that accepts and never answers: ``ping`` (``/readyz``) says no after its own
    2 s read timeout (which pyclamd tries five times: 10 s), not after the scan timeout (here
    ten minutes; the test's own limit is two)."""
    with socket.socket() as listener:  # the kernel accepts; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        scanner = ClamdScanner("127.0.0.1", listener.getsockname()[1], timeout=600)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            assert scanner.ping() is False
            gc.collect()
    # pyclamd leaves the socket open when the PING fails: ping closes it, no fd lingers.
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_clamd_replies_split_or_garbled_are_read_whole() -> None:
    split, garbled = FakeClamd("ok_split").start(), FakeClamd("garbled").start()
    try:
        verdict = ClamdScanner("127.0.0.1", split.port, timeout=5).scan_stream(
            io.BytesIO(b"split reply"))
        assert verdict == Verdict(infected=False, bytes_scanned=11)
        found = ClamdScanner("127.0.0.1", garbled.port, timeout=5).scan_stream(
            io.BytesIO(b"odd name"))
        assert found == Verdict(infected=True, signature="Bad\ufffdName", bytes_scanned=8)
    finally:
        split.stop()
        garbled.stop()


@pytest.mark.parametrize("mode", ["limit_mid", "limit_end"])
def test_clamds_stream_limit_is_payload_too_large(mode: str) -> None:
    fake = FakeClamd(mode).start()
    try:
        scanner = ClamdScanner("127.0.0.1", fake.port, timeout=5)
        with pytest.raises(PayloadTooLarge, match=r"^file exceeds the scanner's stream limit$"):
            scanner.scan_stream(io.BytesIO(PAYLOAD * 4), chunk_size=32768)
    finally:
        fake.stop()


def test_clamds_refusal_mid_stream_is_seen_on_the_next_feed() -> None:
    """clamd refuses a stream past its limit at once and hangs up: the next ``feed`` reads
    the refusal (413) instead of reporting a lost connection."""
    fake = FakeClamd("limit_mid").start()
    try:
        session = ClamdScanner("127.0.0.1", fake.port, timeout=5).open_session()
        session.feed(b"first frame")
        assert fake.refused.wait(10)
        with pytest.raises(PayloadTooLarge,
                           match=r"^file exceeds the scanner's stream limit$") as info:
            for _ in range(100):  # the refusal is read before a frame goes out
                session.feed(b"next frame")
        assert info.value.__cause__ is None
        session.abort()
    finally:
        fake.stop()


@pytest.mark.parametrize("mode", ["ok_held", "ok_held_nul"])
def test_clamd_client_reads_one_reply_without_waiting_for_the_close(mode: str) -> None:
    fake = FakeClamd(mode).start()
    try:
        started = time.monotonic()
        verdict = ClamdScanner("127.0.0.1", fake.port, timeout=10).scan_stream(
            io.BytesIO(PAYLOAD), chunk_size=32768)
        assert verdict == Verdict(infected=False, bytes_scanned=len(PAYLOAD))
        assert time.monotonic() - started < 8  # the reply's end, not the 10 s timeout
    finally:
        fake.stop()


@pytest.mark.parametrize("mode", FRONT_MODES)
def test_front_client_fails_closed(mode: str) -> None:
    fake = FakeFront(mode).start()
    try:
        scanner = HttpScanner(fake.url, timeout=5)
        with pytest.raises(ScannerUnavailable):
            scanner.scan_stream(io.BytesIO(PAYLOAD), chunk_size=32768)
        assert fake.requests == ["/scan"]
    finally:
        fake.stop()


# -- the ingresses ------------------------------------------------------------------------


@pytest.mark.parametrize("broken", CASES, ids=_ids, indirect=True)
def test_inline_upload_fails_closed(api, env, broken) -> None:
    storage = Path(env["WORKSPACE_STORAGE_DIR"])
    assert api.get("/files").json == []  # the workspace and database exist before
    before = storage_snapshot(storage)
    response = api.upload(PAYLOAD, "report.txt")
    assert response.status_code == 503, (response.status_code, response.data)
    assert response.json["error"]
    assert storage_snapshot(storage) == before  # nothing stored, nothing left staged
    assert api.get("/files").json == []
    assert api.get("/files/file_000001/content").status_code == 404
    assert [e["operation_type"] for e in api.get("/logs").json] == []


@pytest.mark.parametrize("broken", CASES, ids=_ids, indirect=True)
def test_media_input_fails_closed(api, env, broken) -> None:
    data_uri = "data:text/plain;base64," + base64.b64encode(PAYLOAD).decode()
    body = {"file": data_uri, "return_format": "for_block_output", "graph_exec_id": "exec-1"}
    response = api.client.post(API + "/media", data=json.dumps(body),
                               headers=api.headers(), content_type="application/json")
    assert response.status_code == 503, (response.status_code, response.data)
    exec_root = Path(env["MEDIA_EXEC_ROOT"])
    assert not exec_root.exists() or not [p for p in exec_root.rglob("*") if p.is_file()]
    assert api.get("/files?include_all_sessions=true").json == []


@pytest.mark.parametrize("broken", CASES, ids=_ids, indirect=True)
def test_finalize_fails_closed(landing: Landing, broken, monkeypatch) -> None:
    ticket = landing.issue(PAYLOAD)
    name = landing.name(ticket)
    generation = landing.put(ticket, PAYLOAD)
    try:
        outcome = landing.process(name, generation)
    except ScannerUnavailable:  # raised: the event will be delivered again
        outcome = "raised"
    assert outcome in ("raised", "unexpected")
    assert landing.names(landing.files) == []  # nothing promoted
    assert landing.download(ticket["file_id"])[0] != 200
    if outcome == "unexpected":  # the short scan: quarantined, the reservation released
        assert landing.names(landing.quarantine) == [f"{name}.{generation}"]
        assert landing.api.get(f"/files/{ticket['file_id']}").status_code == 404
        [entry] = landing.api.get(f"/logs?resource_id={ticket['file_id']}").get_json()
        assert entry["details"]["reason"] == "size differs from reservation"
        assert landing.issue(PAYLOAD)["file_id"]  # the ticket is gone: the path is free
        return
    assert landing.record(ticket["file_id"])["status"] == "pending"
    # The redelivery, once the scanner is back, finishes the job: the lock was released.
    monkeypatch.setenv("CLAMAV_SERVICE_URL", "")
    monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(landing.clamd_port))
    factory.reset()
    assert landing.process(name, generation) == "ready"
    assert landing.download(ticket["file_id"]) == (200, PAYLOAD)

