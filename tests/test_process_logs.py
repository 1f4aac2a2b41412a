"""What a real server process writes to its logs: Cloud Logging JSON, traced, and no secret.

A ``make run`` server (``LOG_FORMAT=json``, as Cloud Run's default) serves uploads, an API
key, a signed download link, memory and an EICAR upload; its whole stderr is then read. Every
line is JSON with a ``severity``; lines of a request carry its trace (from ``traceparent``
or ``X-Cloud-Trace-Context``) and ``httpRequest``; each scan is one structured line; and no
bearer token, API key, signed link, signature or byte of content appears anywhere.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from localdev.process import LocalServer
from shared.env import log_format
from shared.logging_config import trace_of
from tests.conftest import API, DEV_SECRET, EICAR, base_env

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_servers_logs_are_json_traced_and_hold_no_secret(tmp_path: Path, clamd) -> None:
    from shared.auth import mint_dev_token

    env = {**base_env(tmp_path / "storage", clamd.port), "LOG_FORMAT": "json",
           "LOG_LEVEL": "DEBUG", "GOOGLE_CLOUD_PROJECT": "logtest"}
    server = LocalServer(tmp_path / "server", env, threads=4).start(timeout=30)
    token = mint_dev_token(DEV_SECRET, "alice")
    secret_text = f"content-{uuid.uuid4().hex}"
    user = {"Authorization": f"Bearer {token}",
            "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    try:
        base = server.url + API
        files = {"file": ("notes.txt", secret_text.encode())}
        record = requests.post(f"{base}/files", files=files, headers=user, timeout=30).json()
        key = requests.post(f"{base}/keys", json={"name": "k", "scopes": ["files:read"]},
                            headers=user, timeout=30).json()["key"]
        assert requests.get(f"{base}/files", timeout=30, headers={
            "Authorization": f"Bearer {key}",
            "X-Cloud-Trace-Context": f"{TRACE.upper()}/123;o=1"}).status_code == 200
        link = requests.get(f"{base}/files/{record['id']}/content?redirect=false",
                            headers=user, timeout=30).json()["url"]
        assert requests.get(link, timeout=30).text == secret_text
        requests.post(f"{base}/memory", json={"content": secret_text}, headers=user, timeout=30)
        refused = requests.post(f"{base}/files", files={"file": ("e.txt", EICAR)}, headers=user,
                                timeout=30)
        assert refused.status_code == 422
    finally:
        server.stop()
    text = server.log_path.read_text(encoding="utf-8")
    signature = link.split("sig=")[1].split("&")[0]
    for secret in (token, key, key.removeprefix("wsk_"), link, signature, secret_text,
                   EICAR.decode()):
        assert secret not in text
    # Every line of the service's logging is JSON (a web build's npm output, when the
    # server had to build it on start, is not ours).
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all("severity" in line and "message" in line for line in lines)
    traced = [line for line in lines if line.get("logging.googleapis.com/trace")]
    assert {line["logging.googleapis.com/trace"] for line in traced} == {
        f"projects/logtest/traces/{TRACE}"}
    assert all(line["httpRequest"]["requestUrl"].startswith(API) for line in traced)
    access = [line for line in lines if line["logger"] == "workspace.access"]
    assert {line["httpRequest"]["status"] for line in access} >= {200, 201, 422}
    assert all("?" not in line["httpRequest"]["requestUrl"] for line in access)
    scans = [line for line in lines if line.get("event") == "scan"]
    assert [s["verdict"] for s in scans] == ["clean", "infected"]
    assert all(s["ingress"] == "upload" and s["engine"].startswith("ClamAV")
               and s["db_version"] == clamd.db_version and s["bytes"] > 0
               and isinstance(s["duration_ms"], int) for s in scans)
    assert all(s.get("logging.googleapis.com/trace") for s in scans)


def test_trace_headers_and_the_cloud_run_default(monkeypatch) -> None:
    assert trace_of({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-00"}, "p") == {
        "logging.googleapis.com/trace": f"projects/p/traces/{TRACE}",
        "logging.googleapis.com/spanId": "00f067aa0ba902b7",
        "logging.googleapis.com/trace_sampled": False}
    assert trace_of({"X-Cloud-Trace-Context": f"{TRACE}/1;o=1"}, "p")[
        "logging.googleapis.com/spanId"] == "0000000000000001"
    assert trace_of({"traceparent": "garbage", "X-Cloud-Trace-Context": "also;bad"}, "p") == {}
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setenv("K_SERVICE", "files")
    assert log_format() == "json"
    monkeypatch.delenv("K_SERVICE")
    assert log_format() == "text"
