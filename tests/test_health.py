"""``/healthz`` against real backends, a clamd this test starts and stops, and uploads that
must fail closed (503, nothing stored) when the scanner is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.clamd import ClamdProcess, clamd_answers
from shared import factory
from tests.conftest import storage_snapshot


def _health(api):
    return api.client.get("/healthz")


def _start_clamd(workdir: Path, port: int | None = None) -> ClamdProcess:
    """Start clamd; a free port can be taken by another process before clamd binds it, so
    a failed start on a port we picked is retried once on a fresh one."""
    try:
        return ClamdProcess(workdir, port=port).start()
    except RuntimeError:
        if port is not None:
            raise
        return ClamdProcess(workdir.with_name(workdir.name + "-retry")).start()


@pytest.fixture
def own_clamd(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClamdProcess]:
    """A private clamd (not the session one), with the service pointed at it."""
    proc = _start_clamd(tmp_path / "own-clamd")
    try:
        monkeypatch.setenv("CLAMAV_SERVICE_PORT", str(proc.port))
        factory.reset()
        yield proc
    finally:
        proc.stop()


def test_healthz_reports_backends_without_auth(api, env):
    response = _health(api)
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/json"
    body = response.json
    assert body["status"] == "ok"
    backends = body["backends"]
    assert backends["blobs"]["backend"] == "local"
    assert backends["metadata"]["backend"] == "sqlite"
    assert backends["metadata"]["reachable"] is True
    assert backends["scanner"] == {"backend": "clamd", "enabled": True, "reachable": True}


def test_healthz_degrades_when_clamd_stops(api, own_clamd):
    healthy = _health(api)
    assert healthy.status_code == 200, healthy.json
    assert healthy.json["backends"]["scanner"]["reachable"] is True
    own_clamd.stop()
    assert not clamd_answers("127.0.0.1", own_clamd.port)
    response = _health(api)
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    body = response.json
    assert body["status"] == "degraded"
    assert body["backends"]["scanner"] == {"backend": "clamd", "enabled": True,
                                           "reachable": False}
    assert body["backends"]["metadata"]["reachable"] is True


def test_healthz_with_scanning_disabled(api, env, monkeypatch, caplog):
    from shared import factory

    monkeypatch.setenv("CLAMAV_SERVICE_ENABLED", "false")
    factory.reset()
    with caplog.at_level(logging.WARNING):
        scanner = factory.scanner()
    assert scanner.enabled is False
    loud = [r for r in caplog.records
            if r.levelno >= logging.WARNING and "DISABLED" in r.getMessage()]
    assert loud, [r.getMessage() for r in caplog.records]
    response = _health(api)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "ok"
    assert body["backends"]["scanner"]["enabled"] is False
    assert body["backends"]["scanner"]["reachable"] is None


def test_scanner_enabled_logs_no_disabled_warning(env, caplog):
    from shared import factory

    with caplog.at_level(logging.WARNING):
        assert factory.scanner().enabled is True
    assert not [r for r in caplog.records if "DISABLED" in r.getMessage()]


def test_upload_with_clamd_stopped_is_503_and_stores_nothing(api, env, own_clamd):
    storage = Path(env["WORKSPACE_STORAGE_DIR"])
    assert api.get("/files").json == []  # creates the workspace and the database
    before = storage_snapshot(storage)
    own_clamd.stop()
    response = api.upload(b"must never be stored\n", "secret.txt")
    assert response.status_code == 503, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    assert response.json["error"]
    assert storage_snapshot(storage) == before
    assert not any(name.startswith(".staging/") for name in storage_snapshot(storage))
    listing = api.get("/files")
    assert listing.status_code == 200 and listing.json == []
    assert api.get("").json["file_count"] == 0


def test_upload_after_clamd_returns_uses_the_freed_path(api, env, own_clamd, tmp_path):
    # The failed upload must not leave a reservation behind that blocks the path later.
    own_clamd.stop()
    assert api.upload(b"first try\n", "report.txt").status_code == 503
    restarted = _start_clamd(tmp_path / "own-clamd-2", port=own_clamd.port)
    try:
        response = api.upload(b"second try\n", "report.txt")
        assert response.status_code == 201, response.json
        assert response.json["path"] == "/report.txt"
        content = api.get(f"/files/{response.json['id']}/content")
        assert content.data == b"second try\n"
        assert [f["path"] for f in api.get("/files").json] == ["/report.txt"]
    finally:
        restarted.stop()
