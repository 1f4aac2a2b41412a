"""The container definition in ``infra/clamav/``: its configs, and its entrypoint run for real.

Docker cannot build here, so the files are checked two ways. First they are parsed: the
rendered clamd.conf must alert on limits and encryption and stream at least
``MAX_FILE_SIZE_MB``, the mirror must come from ``CLAMAV_MIRROR_URL``, and ClamAV's own
parser (``clamconf``) must accept both files. Then ``entrypoint.sh`` itself runs as a local
process (configs rendered, freshclam tried against an unreachable mirror, clamd started,
gunicorn serving the front) and must scan.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from localdev.clamd import TEST_SIGNATURES, find_clamd
from localdev.process import ManagedProcess, ProcessExited, free_port
from shared.config import Settings
from shared.scanfront.settings import FrontSettings
from tests.conftest import EICAR, require

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "clamav"
UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def render(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INFRA / "render-config.sh"), str(out)], text=True,
                          capture_output=True, env={**os.environ, **env}, check=False)


def parse_conf(path: Path) -> dict[str, str]:
    options: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            options[key] = value.strip()
    return options


def size_bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", value)
    assert match, value
    return int(match.group(1)) * UNITS.get(match.group(2), 1)


@pytest.mark.parametrize("max_mb", [None, "250"])
def test_clamd_limits_follow_max_file_size(tmp_path, max_mb):
    env = {"MAX_FILE_SIZE_MB": max_mb} if max_mb else {}
    done = render(tmp_path, **env)
    assert done.returncode == 0, done.stderr
    conf = parse_conf(tmp_path / "clamd.conf")
    cap = int(max_mb or Settings().max_file_size_mb) * 1024**2
    assert Settings().max_file_size_mb == FrontSettings().max_file_size_mb == 100
    for option in ("StreamMaxLength", "MaxFileSize", "MaxScanSize"):
        assert size_bytes(conf[option]) >= cap, (option, conf[option])
    assert conf["AlertExceedsMax"] == "yes"
    assert conf["AlertEncrypted"] == "yes"
    assert (conf["TCPAddr"], conf["TCPSocket"], conf["Foreground"]) == ("127.0.0.1", "3310",
                                                                        "yes")
    assert not re.search(r"@[A-Z_]+@", (tmp_path / "clamd.conf").read_text())  # all filled


def test_the_alerts_are_on_in_the_file_itself():
    """Not only rendered: the shipped file has no way to turn them off."""
    conf = parse_conf(INFRA / "clamd.conf")
    assert conf["AlertExceedsMax"] == "yes" and conf["AlertEncrypted"] == "yes"
    assert conf["StreamMaxLength"] == "@LIMIT_MB@M"


def test_mirror_is_configurable(tmp_path):
    done = render(tmp_path, CLAMAV_MIRROR_URL="https://clamav-mirror.example.com/db/")
    assert done.returncode == 0, done.stderr
    fresh = parse_conf(tmp_path / "freshclam.conf")
    assert fresh["PrivateMirror"] == "https://clamav-mirror.example.com/db"
    assert "DatabaseMirror" not in fresh
    assert fresh["NotifyClamd"] == f"{tmp_path}/clamd.conf"
    default = render(tmp_path / "cdn", CLAMAV_MIRROR_URL="")
    assert parse_conf(tmp_path / "cdn" / "freshclam.conf")["DatabaseMirror"] == \
        "database.clamav.net" and "CDN" in default.stderr


def test_a_mounted_mirror_is_served_on_loopback_for_freshclam(tmp_path):
    """Terraform mounts the cvdupdate bucket and passes ``file:///mirror/cvds``; freshclam's
    PrivateMirror speaks only http(s), so the entrypoint serves that dir on loopback."""
    done = render(tmp_path, CLAMAV_MIRROR_URL="file:///mirror/cvds/")
    assert done.returncode == 0, done.stderr
    assert parse_conf(tmp_path / "freshclam.conf")["PrivateMirror"] == "http://127.0.0.1:8099"
    assert (tmp_path / "mirror-dir").read_text().split() == ["8099", "/mirror/cvds"]
    entrypoint = (INFRA / "entrypoint.sh").read_text()
    assert 'python3 -m http.server --bind 127.0.0.1 --directory "$mirror_dir"' in entrypoint
    again = render(tmp_path, CLAMAV_MIRROR_URL="https://m.example.com")
    assert again.returncode == 0 and not (tmp_path / "mirror-dir").exists()


@pytest.mark.parametrize("env", [
    {"CLAMAV_MIRROR_URL": "file://relative/dir"},
    {"CLAMAV_MIRROR_URL": "file:///mirror/../etc"},
    {"CLAMAV_MIRROR_URL": "ftp://mirror"},
    {"CLAMAV_MIRROR_URL": "https://mirror|evil"},
    {"MAX_FILE_SIZE_MB": "abc"},
    {"MAX_FILE_SIZE_MB": "0"},
    {"CLAMD_MAX_SCAN_MB": "5"},
])
def test_bad_settings_stop_the_render(tmp_path, env):
    done = render(tmp_path, **env)
    assert done.returncode == 2 and "render-config" in done.stderr


def test_clamav_parses_the_rendered_files(tmp_path):
    require(shutil.which("clamconf") is not None, "clamconf (Debian's clamav package)")
    assert render(tmp_path, CLAMAV_MIRROR_URL="https://m.example.com").returncode == 0
    done = subprocess.run(["clamconf", "-c", str(tmp_path), "-n"], capture_output=True,
                          text=True, check=False)
    assert "ERROR" not in done.stderr + done.stdout, done.stderr
    assert 'AlertEncrypted = "yes"' in done.stdout
    assert 'PrivateMirror = "https://m.example.com"' in done.stdout


def test_dockerfile_cloudbuild_and_ignore_file():
    docker = (INFRA / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", docker, re.M)
    assert re.search(r"^ARG MAX_FILE_SIZE_MB=100$", docker, re.M)
    assert re.search(r"^ARG CLAMAV_MIRROR_URL=", docker, re.M)
    assert "CLAMAV_MIRROR_URL=${CLAMAV_MIRROR_URL}" in docker
    for package in ("clamav-daemon", "clamav-freshclam", "tini"):
        assert package in docker
    assert "COPY shared/ shared/" in docker
    assert "functions/clamav_front.py" in docker and "pip install" in docker
    assert '"/usr/bin/tini", "-g"' in docker
    ignore = (INFRA / "Dockerfile.dockerignore").read_text().split()
    assert {"!shared/**", "!functions/clamav_front.py", "!requirements.txt"} <= set(ignore)
    build = yaml.safe_load((INFRA / "cloudbuild.yaml").read_text())
    args = build["steps"][0]["args"]
    assert "--file=infra/clamav/Dockerfile" in args and args[-1] == "."
    assert "--build-arg=CLAMAV_MIRROR_URL=${_CLAMAV_MIRROR_URL}" in args
    entry = (INFRA / "entrypoint.sh").read_text()
    assert "exec gunicorn" in entry and "functions.clamav_front:app" in entry
    assert "--timeout 0" in entry and "--http2-cleartext both" in entry


class Entrypoint(ManagedProcess):
    """``infra/clamav/entrypoint.sh`` as the container would run it, with local paths."""

    name = "clamav-entrypoint"

    def __init__(self, workdir: Path, port: int | None = None, **env: str) -> None:
        super().__init__(workdir, port)
        self.clamd_port = free_port()
        self._env = env

    def command(self) -> list[str]:
        return ["bash", str(INFRA / "entrypoint.sh")]

    def env(self) -> dict[str, str]:
        path = f"{Path(sys.executable).parent}:/usr/sbin:{os.environ.get('PATH', '')}"
        return {"CLAMAV_CONF_DIR": str(self.workdir / "conf"),
                "CLAMAV_DB_DIR": str(self.workdir / "db"),
                "CLAMAV_DB_OWNER": os.environ.get("USER") or "root",
                "CLAMD_PORT": str(self.clamd_port), "PORT": str(self.port),
                "APP_DIR": str(ROOT), "PATH": path, "K_SERVICE": "",
                "CLAMAV_FRONT_AUTH": "", "CLAMD_START_ATTEMPTS": "60", **self._env}

    def probe_url(self) -> str:
        return f"http://{self.host_port}/healthz"


def test_entrypoint_starts_clamd_and_the_front(tmp_path):
    require(find_clamd() is not None and shutil.which("freshclam") is not None
            and shutil.which("clamdscan") is not None, "clamd, freshclam and clamdscan")
    (tmp_path / "db").mkdir()
    shutil.copy(TEST_SIGNATURES, tmp_path / "db" / TEST_SIGNATURES.name)
    dead_mirror = f"http://127.0.0.1:{free_port()}"  # freshclam fails: the shipped DB is used
    proc = Entrypoint(tmp_path, CLAMAV_MIRROR_URL=dead_mirror, MAX_FILE_SIZE_MB="2")
    try:
        proc.start(timeout=120)
        url = f"http://{proc.host_port}"
        assert requests.get(f"{url}/readyz", timeout=30).status_code == 200
        infected = requests.post(f"{url}/scan", data=EICAR, timeout=30).json()
        assert infected["verdict"] == "infected"
        too_big = requests.post(f"{url}/scan", data=b"a" * (3 * 1024**2), timeout=30)
        assert too_big.status_code == 413
        # h2c, as Cloud Run sends it with --use-http2 (no 32 MiB cap on request bodies).
        require(shutil.which("curl") is not None, "curl")
        sample = tmp_path / "eicar.bin"
        sample.write_bytes(os.urandom(1024**2) + EICAR)
        h2 = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}",
                             "--data-binary", f"@{sample}", f"{url}/scan"],
                            capture_output=True, text=True, timeout=60, check=False)
        body, _, version = h2.stdout.rpartition("\n")
        assert version == "2" and '"verdict": "infected"' in body, h2.stdout + h2.stderr
        conf = parse_conf(tmp_path / "conf" / "clamd.conf")
        assert conf["StreamMaxLength"] == "10M" and conf["TCPSocket"] == str(proc.clamd_port)
    finally:
        proc.stop()
    assert "freshclam failed; starting with the database already present" in \
        proc.log_path.read_text()


def test_entrypoint_refuses_to_start_without_signatures(tmp_path):
    require(find_clamd() is not None and shutil.which("freshclam") is not None,
            "clamd and freshclam")
    (tmp_path / "db").mkdir()
    # A fixed port: one attempt, since exiting is the expected outcome, not a port race.
    proc = Entrypoint(tmp_path, port=free_port(),
                      CLAMAV_MIRROR_URL=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ProcessExited):
        proc.start(timeout=120)
    proc.stop()
    assert "no signatures and the mirror is unreachable" in proc.log_path.read_text()
