"""The ClamAV HTTP front as a real gunicorn process on a real clamd and fake-gcs-server.

Docker cannot build here, so the container's app runs as a local process with the
container's gunicorn command line (``localdev.clamav_front``). Covered: verdicts on bodies
and GCS objects, generation pinning, the 4xx contract, clamd outages (503 ``error``, readiness),
bodies larger than the socket buffer, and ID-token auth in production mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator

import pytest
import requests

from localdev.clamav_front import ClamavFront
from localdev.clamd import ClamdProcess
from localdev.process import ProcessExited
from shared.errors import ConfigError
from shared.scanfront.service import ScanFront
from shared.scanfront.settings import FrontSettings
from tests.conftest import EICAR
from tests.scan_fixtures import AUDIENCE, INVOKER, MiB, front_env, put

TIMEOUT = 120


def scan(front_url: str, data: bytes | Iterator[bytes], **kw) -> requests.Response:
    return requests.post(f"{front_url}/scan", data=data, timeout=TIMEOUT, **kw)


def scan_gcs(front_url: str, body: object, **kw) -> requests.Response:
    return requests.post(f"{front_url}/scan/gcs", json=body, timeout=TIMEOUT, **kw)


def assert_result(response: requests.Response, verdict: str, size: int,
                  data: bytes | None = None) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"verdict", "signature", "bytes_scanned", "duration_ms", "sha256",
                         "mime_type", "engine", "db_version"}
    assert body["verdict"] == verdict
    assert len(body["sha256"]) == 64 and "/" in body["mime_type"]
    if data is not None:  # hashed in the same pass that scanned
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["bytes_scanned"] == size
    assert isinstance(body["duration_ms"], int) and body["duration_ms"] >= 0
    if verdict == "infected":
        assert "EICAR" in body["signature"]
    else:
        assert body["signature"] is None
    return body


# -- bodies -----------------------------------------------------------------------------


def test_clean_and_infected_bodies(front):
    text = b"just some text\n"
    assert assert_result(scan(front.url, text), "clean", 15, text)["mime_type"] == "text/plain"
    assert_result(scan(front.url, EICAR), "infected", len(EICAR), EICAR)
    assert_result(scan(front.url, b""), "clean", 0, b"")


def test_chunked_body_larger_than_the_socket_buffer(front):
    """Streamed in 1 MiB chunks without a length; the signature is the last bytes."""
    with socket.socket() as sock:
        buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    size = 40 * MiB
    assert size > 20 * buffer
    block = os.urandom(MiB)

    def body(tail: bytes) -> Iterator[bytes]:
        for _ in range(size // MiB - 1):
            yield block
        yield block[: MiB - len(tail)] + tail

    assert_result(scan(front.url, body(EICAR)), "infected", size)
    assert_result(scan(front.url, body(b"harmless")), "clean", size)


def test_body_over_the_cap_is_413(small_front):
    over = b"z" * (MiB + 1)
    response = scan(small_front.url, over)  # Content-Length: refused before reading
    assert response.status_code == 413 and "error" in response.json()
    response = scan(small_front.url, iter([over[:MiB], over[MiB:]]))  # chunked: counted
    assert response.status_code == 413 and "error" in response.json()
    assert_result(scan(small_front.url, over[:MiB]), "clean", MiB)  # exactly the cap


# -- GCS objects ------------------------------------------------------------------------


def test_gcs_objects_clean_and_infected(front, bucket):
    clean = put(bucket, "incoming/ws_1/file_000001/report.txt", b"quarterly numbers\n")
    infected = put(bucket, "incoming/ws_1/file_000002/evil.txt", b"pre " + EICAR)
    result = assert_result(scan_gcs(front.url, {
        "bucket": bucket.name, "generation": clean, "filename": "report.txt",
        "name": "incoming/ws_1/file_000001/report.txt"}), "clean", 18, b"quarterly numbers\n")
    assert result["mime_type"] == "text/plain"
    # GCS's own JSON (and the finalize event) encodes generations as decimal strings.
    assert_result(scan_gcs(front.url, {"bucket": bucket.name, "generation": str(infected),
                                       "name": "incoming/ws_1/file_000002/evil.txt"}),
                  "infected", 4 + len(EICAR))


def test_gcs_object_larger_than_a_read_chunk(front, bucket):
    data = os.urandom(20 * MiB + 17) + EICAR
    generation = put(bucket, "big.bin", data)
    assert_result(scan_gcs(front.url, {"bucket": bucket.name, "name": "big.bin",
                                       "generation": generation}), "infected", len(data), data)


def test_generation_pinning_scans_only_the_named_generation(front, bucket):
    """An object overwritten after the event: each generation is judged on its own bytes."""
    first = put(bucket, "incoming/x/f/name.txt", EICAR)
    second = put(bucket, "incoming/x/f/name.txt", b"harmless replacement")
    ref = {"bucket": bucket.name, "name": "incoming/x/f/name.txt"}
    assert_result(scan_gcs(front.url, {**ref, "generation": first}), "infected", len(EICAR))
    assert_result(scan_gcs(front.url, {**ref, "generation": second}), "clean", 20)


def test_overwritten_generation_is_404_not_the_new_bytes(front, plain_bucket):
    first = put(plain_bucket, "a.txt", b"first, clean")
    second = put(plain_bucket, "a.txt", EICAR)
    response = scan_gcs(front.url, {"bucket": plain_bucket.name, "name": "a.txt",
                                    "generation": first})
    assert response.status_code == 404, response.text
    assert "verdict" not in response.json() and response.json()["error"]
    assert_result(scan_gcs(front.url, {"bucket": plain_bucket.name, "name": "a.txt",
                                       "generation": second}), "infected", len(EICAR))


def test_missing_object_bucket_or_generation_is_404(front, bucket):
    generation = put(bucket, "here.txt", b"x")
    for body in ({"bucket": bucket.name, "name": "absent.txt", "generation": generation},
                 {"bucket": bucket.name, "name": "here.txt", "generation": generation + 1},
                 {"bucket": "no-such-bucket-1234", "name": "here.txt", "generation": 1}):
        response = scan_gcs(front.url, body)
        assert response.status_code == 404, (body, response.text)
        assert set(response.json()) == {"error"}


def test_gcs_object_over_the_cap_is_413(small_front, bucket):
    generation = put(bucket, "large.bin", b"y" * (MiB + 1))
    response = scan_gcs(small_front.url, {"bucket": bucket.name, "name": "large.bin",
                                          "generation": generation})
    assert response.status_code == 413 and response.json()["error"]


GOOD = {"bucket": "some-bucket", "name": "incoming/a.txt", "generation": 1}


@pytest.mark.parametrize(("body", "status"), [
    ("not json", 400),
    ("[1, 2]", 400),
    ('{"bucket": "b", "name": "n", "generation": NaN}', 400),
    (json.dumps({**GOOD, "extra": 1}), 400),
    (json.dumps({"name": "n", "generation": 1}), 400),
    (json.dumps({"bucket": "some-bucket", "generation": 1}), 400),
    (json.dumps({"bucket": "some-bucket", "name": "n"}), 400),
    (json.dumps({**GOOD, "bucket": 7}), 400),
    (json.dumps({**GOOD, "bucket": "Bad_Bucket!"}), 400),
    (json.dumps({**GOOD, "name": ["n"]}), 400),
    (json.dumps({**GOOD, "name": ""}), 400),
    (json.dumps({**GOOD, "name": "a\nb"}), 400),
    (json.dumps({**GOOD, "name": "n" * 1025}), 400),
    (json.dumps({**GOOD, "generation": "abc"}), 400),
    (json.dumps({**GOOD, "generation": "007"}), 400),
    (json.dumps({**GOOD, "generation": -1}), 400),
    (json.dumps({**GOOD, "generation": 0}), 400),
    (json.dumps({**GOOD, "generation": 1.5}), 400),
    (json.dumps({**GOOD, "generation": True}), 400),
    (json.dumps({**GOOD, "generation": 2**64}), 400),
    (json.dumps({**GOOD, "name": "x" * 20000}), 413),
])
def test_bad_gcs_requests_are_4xx(front, body, status):
    response = requests.post(f"{front.url}/scan/gcs", data=body, timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


def test_wrong_content_type_method_and_route(front):
    response = requests.post(f"{front.url}/scan/gcs", data=json.dumps(GOOD), timeout=TIMEOUT,
                             headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"]
    assert requests.get(f"{front.url}/scan", timeout=TIMEOUT).status_code == 405
    missing = requests.get(f"{front.url}/nothing", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}


def test_broken_chunked_framing_is_400(front):
    with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
        sock.sendall(b"POST /scan HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\nZZZ\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]


# -- health, readiness and outages ------------------------------------------------------


def test_health_and_readiness(front):
    assert requests.get(f"{front.url}/healthz", timeout=TIMEOUT).json() == {"status": "ok"}
    ready = requests.get(f"{front.url}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True and ready.json()["engine"].startswith("ClamAV ")


def test_clamd_down_is_503_error_and_not_ready(outage, bucket):
    url = outage.front.url
    generation = put(bucket, "o.txt", b"fine")
    assert requests.get(f"{url}/readyz", timeout=TIMEOUT).status_code == 200
    outage.clamd.kill()  # by its process group, never by name

    for response in (scan(url, b"anything"),
                     scan_gcs(url, {"bucket": bucket.name, "name": "o.txt",
                                    "generation": generation})):
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["verdict"] == "error" and body["signature"] is None and body["error"]
    ready = requests.get(f"{url}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert requests.get(f"{url}/healthz", timeout=TIMEOUT).status_code == 200

    outage.clamd.start()  # back on the same port: ready again, scans again
    assert requests.get(f"{url}/readyz", timeout=TIMEOUT).status_code == 200
    assert_result(scan(url, EICAR), "infected", len(EICAR))


def test_readiness_can_require_an_official_database(tmp_path):
    """On Cloud Run the front is only ready once freshclam fetched a real database: a clamd
    with unversioned signatures only (a plain .ndb) is not ready then."""
    plain = ClamdProcess(tmp_path / "clamd", db_version=None).start()
    try:
        local = ScanFront(FrontSettings(clamav_service_port=plain.port))
        assert local.readiness()[1] == 200
        strict = ScanFront(FrontSettings(clamav_service_port=plain.port,
                                         require_db_version=True))
        body, status = strict.readiness()
        assert status == 503 and body["database_version"] is None
        assert "database" in body["error"]
    finally:
        plain.stop()


def test_scans_name_the_engine_and_database_version(front, clamd):
    """The scan record's engine and DB version come from clamd's VERSION, through the front."""
    body = scan(front.url, b"plain text").json()
    assert body["engine"].startswith("ClamAV ") and body["db_version"] == clamd.db_version


# -- ID-token auth (production mode) -------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_production_requires_a_valid_id_token(auth_front, identity):
    url = auth_front.url
    good = identity.mint(AUDIENCE, INVOKER)
    assert_result(scan(url, EICAR, headers=bearer(good)), "infected", len(EICAR))

    refused = {
        "no header": {},
        "not bearer": {"Authorization": f"Basic {good}"},
        "garbage": bearer("not-a-jwt"),
        "wrong audience": bearer(identity.mint("https://other.a.run.app", INVOKER)),
        "expired": bearer(identity.mint(AUDIENCE, INVOKER, expires_in=-120)),
        "foreign key": bearer(identity.mint(AUDIENCE, INVOKER, foreign_key=True)),
        "wrong issuer": bearer(identity.mint(AUDIENCE, INVOKER, issuer="https://evil.example")),
    }
    for case, headers in refused.items():
        for response in (scan(url, b"x", headers=headers),
                         scan_gcs(url, GOOD, headers=headers)):
            assert response.status_code == 401, (case, response.text)
            assert set(response.json()) == {"error"}
    not_allowed = {
        "stranger": identity.mint(AUDIENCE, "intruder@evil.iam.gserviceaccount.com"),
        "unverified email": identity.mint(AUDIENCE, INVOKER, verified=False),
    }
    for case, token in not_allowed.items():
        response = scan(url, b"x", headers=bearer(token))
        assert response.status_code == 401, (case, response.text)
        assert "may not" in response.json()["error"] or "verified" in response.json()["error"]
    # Probes carry no token: health stays public; readiness demands a versioned database
    # there (the session clamd's test database is one; an unversioned one is refused by
    # test_readiness_can_require_an_official_database).
    assert requests.get(f"{url}/healthz", timeout=TIMEOUT).status_code == 200
    ready = requests.get(f"{url}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 200 and ready.json()["database_version"] is not None


def test_auth_cannot_be_turned_off_in_production(tmp_path, clamd, fake_gcs, monkeypatch):
    monkeypatch.setenv("K_SERVICE", "clamav")
    monkeypatch.setenv("CLAMAV_FRONT_AUTH", "none")
    with pytest.raises(ConfigError, match="refused"):
        FrontSettings.from_env()
    monkeypatch.setenv("CLAMAV_FRONT_AUTH", "id_token")
    monkeypatch.delenv("CLAMAV_FRONT_ALLOWED_INVOKERS", raising=False)
    with pytest.raises(ConfigError, match="ALLOWED_INVOKERS"):
        FrontSettings.from_env()
    monkeypatch.delenv("K_SERVICE")
    monkeypatch.setenv("CLAMAV_FRONT_AUTH", "none")
    assert FrontSettings.from_env().auth == "none"  # locally it may be off

    # The process refuses to boot rather than serve unauthenticated scans.
    proc = ClamavFront(tmp_path / "front", clamd.port,
                       env=front_env(fake_gcs, K_SERVICE="clamav", CLAMAV_FRONT_AUTH="none"))
    with pytest.raises(ProcessExited):
        proc.start(timeout=60)
    proc.stop()
    assert "refused on Cloud Run" in proc.log_path.read_text()
