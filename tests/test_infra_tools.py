"""``terraform fmt`` and checkov pass on ``infra/`` and fail on a broken copy of it.

``make infra-check`` runs both on the real tree as part of ``make test``; these tests also
show that each tool really catches what it is there for. checkov runs from its own venv
(``.venv-checkov``, built by ``make checkov``) because its dependencies clash with the
project's pins; terraform is used where it is installed (``terraform fmt`` works offline).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import require
from tests.infra_hcl import INFRA, ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_ENV = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}


def copy_infra(tmp_path: Path) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns(".build", ".terraform", "clamav"))
    return target


def terraform() -> str:
    """The binary; locally the fmt checks skip without it, in CI (CI=true) they fail."""
    found = shutil.which("terraform")
    require(found is not None, "terraform (the fmt check runs where it is installed)")
    assert found is not None
    return found


def fmt_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([terraform(), "fmt", "-check", "-recursive", "-list=true", str(path)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})


def checkov(path: Path) -> dict:
    require(CHECKOV.exists(), "checkov in .venv-checkov (make checkov)")
    done = subprocess.run(
        [str(CHECKOV), "-d", str(path), "--framework", "terraform", "--skip-download",
         "-o", "json"], capture_output=True, text=True, timeout=300, check=False, env=CHECKOV_ENV)
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


def test_terraform_fmt_is_clean():
    done = fmt_check(INFRA)
    assert done.returncode == 0, f"terraform fmt would change: {done.stdout}{done.stderr}"


def test_terraform_fmt_catches_a_misformatted_file(tmp_path):
    copy = copy_infra(tmp_path)
    storage = copy / "storage.tf"
    storage.write_text(storage.read_text(encoding="utf-8").replace(
        "  public_access_prevention    = \"enforced\"", "public_access_prevention=\"enforced\"", 1),
        encoding="utf-8")
    done = fmt_check(copy)
    assert done.returncode != 0
    assert "storage.tf" in done.stdout


def test_checkov_passes_with_every_skip_justified():
    summary = checkov(INFRA)["summary"]
    assert summary["failed"] == 0, summary
    assert summary["passed"] > 50, summary


def test_checkov_fails_a_bucket_without_public_access_prevention(tmp_path):
    copy = copy_infra(tmp_path)
    storage = copy / "storage.tf"
    text = storage.read_text(encoding="utf-8")
    storage.write_text(text.replace('  public_access_prevention    = "enforced"\n', "", 1),
                       encoding="utf-8")
    report = checkov(copy)
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    assert ("CKV_GCP_114", "google_storage_bucket.incoming") in failed, failed
