"""The architecture contracts (``.importlinter``) hold, and they would catch a break.

``lint-imports`` runs in ``make lint``; here it runs on the tree and on broken copies, so a
contract that no longer bites (a typo in a module name, say) fails a test. Separately, no
module outside ``shared/storage/gcs`` imports ``google.cloud.storage``: import-linter can only
forbid whole external packages (``google``), so that rule is checked on the syntax trees.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False, env={"PYTHONPATH": str(root),
                                                         "PATH": "/usr/bin:/bin"})


def test_the_tree_keeps_every_contract():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lint-copy")
    for package in ("functions", "shared", "localdev"):
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", root / ".importlinter")
    return root


BREAKS = {
    "shared/config.py": ("from shared import factory  # noqa\n",
                         "shared values and helpers import no service"),
    "shared/metadata/firestore/store.py": ("import shared.metadata.sqlite  # noqa\n",
                                           "a metadata backend imports only its own base"),
    "shared/storage/local.py": ("import shared.storage.gcs.store  # noqa\n",
                                "a blob backend imports only its own base"),
    "shared/scanning/base.py": ("import shared.files.upload  # noqa\n",
                                "functions -> composition root"),
    "shared/oplog.py": ("import localdev.process  # noqa\n",
                        "nothing in shared/ imports functions/ or localdev/"),
}


@pytest.mark.parametrize("module", sorted(BREAKS))
def test_a_broken_copy_breaks_its_contract(copy: Path, module: str):
    line, contract = BREAKS[module]
    target = copy / module
    original = target.read_text(encoding="utf-8")
    target.write_text(line + original, encoding="utf-8")
    try:
        done = lint(copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout


def test_every_shared_module_is_named_by_a_contract():
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    named: set[str] = set()
    for section in parser.sections():
        for key in ("layers", "modules", "source_modules"):
            for row in parser[section].get(key, "").split():
                named.update(part for part in row.split("|") if part.strip())
    top = {f"shared.{p.stem}" for p in (ROOT / "shared").glob("*.py") if p.stem != "__init__"}
    top |= {f"shared.{p.name}" for p in (ROOT / "shared").iterdir()
            if (p / "__init__.py").exists()}
    assert sorted(top - named) == []


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_only_the_gcs_package_imports_google_cloud_storage():
    """One exception: ``test_gcs_store.py`` patches the library's IAM signBlob call, the one
    fault there is no way to cause here (no IAM service), to test signing in the cloud."""
    gcs = ROOT / "shared" / "storage" / "gcs"
    offenders = sorted(
        str(path.relative_to(ROOT))
        for top in ("shared", "functions", "localdev", "bench", "tests")
        for path in (ROOT / top).rglob("*.py")
        if gcs not in path.parents
        and any(name == "google.cloud.storage" or name.startswith("google.cloud.storage.")
                for name in _imports(path) - {"google.cloud.storage._signing"}))
    assert offenders == []
