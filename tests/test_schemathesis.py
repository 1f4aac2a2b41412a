"""Schemathesis against the real embedded server, from ``openapi.yaml`` (issue 16, item 12).

The Schemathesis CLI runs every check (``--checks all``) and every phase against
``python -m localdev.server`` with dev auth, SQLite, local disk and a real clamd: first the
stateful phase, which follows the document's ``links`` (upload → metadata → content →
delete, memory write → versions → revert), then the examples, coverage and fuzzing phases.
They run as two invocations on the same server because Schemathesis's state machine gives
up after a few dozen scenarios when it runs after the other phases in one invocation, and
on its own it runs its full budget. Generation is derandomized
(``--generation-deterministic``: the same cases locally and in CI, where Hypothesis would
otherwise switch profiles), so a run is reproducible.

It passes when every failure is covered by an entry of ``tests/schemathesis-allow.yaml``
(each with its reason; ``tests/schemathesis_hooks.py`` drops those during the run) and at
least ``MIN_CASES`` requests were generated. ``make test`` runs the budget of
``tests/schemathesis.toml`` (about 6,000 requests, two to three minutes on two cores);
``make schemathesis`` runs this test alone with ``SCHEMATHESIS_MAX_EXAMPLES`` examples per
operation and phase.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localdev.process import LocalServer
from shared.auth import mint_dev_token
from tests.conftest import DEV_SECRET, base_env, require
from tests.schemathesis_report import RunReport, load_allow_list, read_events

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "openapi.yaml"
ALLOW_LIST = ROOT / "tests" / "schemathesis-allow.yaml"
CONFIG = ROOT / "tests" / "schemathesis.toml"
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "")  # empty: the config's budget
MIN_CASES = int(os.environ.get("SCHEMATHESIS_MIN_CASES", "5000"))
BUDGET_SECONDS = int(os.environ.get("SCHEMATHESIS_TIMEOUT", "600"))
RUNS = ("stateful", "examples,coverage,fuzzing")


def schemathesis_command(url: str, token: str, phases: str, report: Path) -> list[str]:
    """One CLI call (run with the repository root on ``PYTHONPATH``, for the hooks)."""
    budget = ["--max-examples", MAX_EXAMPLES] if MAX_EXAMPLES else []
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", str(DOC), "--url", url, "--header", f"Authorization: Bearer {token}",
        "--checks", "all", "--phases", phases, *budget, "--generation-deterministic",
        "--continue-on-failure", "--report", "ndjson", "--report-ndjson-path", str(report),
    ]


@pytest.fixture
def server(tmp_path: Path, clamd) -> LocalServer:
    """``make run``'s server on its embedded backends, with the session's clamd."""
    env = {**base_env(tmp_path / "storage", clamd.port), "METADATA_BACKEND": "sqlite",
           "MEDIA_GCS_BUCKET_NAME": "", "MEDIA_FETCH_CONNECT_TIMEOUT_SECONDS": "2",
           "MEDIA_FETCH_TOTAL_TIMEOUT_SECONDS": "5"}
    started = LocalServer(tmp_path / "server", env).start(timeout=60)
    yield started
    started.stop()


def run_schemathesis(url: str, phases: str, workdir: Path, deadline: float) -> RunReport:
    """One invocation; its events, with the CLI's own output kept beside them."""
    workdir.mkdir()
    events = workdir / "events.ndjson"
    command = schemathesis_command(url, mint_dev_token(DEV_SECRET, "fuzz"), phases, events)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "SCHEMATHESIS_ALLOWED_LOG": str(workdir.parent / "allowed.jsonl")}
    # cwd: Schemathesis keeps a cache directory in its working directory, not in the repo.
    run = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=max(1.0, deadline - time.monotonic()), check=False)
    output = run.stdout + run.stderr
    (workdir / "schemathesis.out").write_text(output, encoding="utf-8")
    assert events.is_file(), f"{phases}: no report (exit {run.returncode})\n{output[-4000:]}"
    report = read_events(events)
    assert report.finished, f"{phases}: the run did not complete\n{output[-4000:]}"
    assert not report.fatal, f"{phases}: {report.fatal}"
    assert report.errored_scenarios == 0, f"{phases}: errors\n{output[-6000:]}"
    return report


@pytest.mark.timeout(BUDGET_SECONDS + 60)
def test_schemathesis_finds_nothing_outside_the_allow_list(server, tmp_path, capsys):
    require(importlib.util.find_spec("schemathesis") is not None, "schemathesis (pip)")
    allowed = load_allow_list(ALLOW_LIST)
    started = time.monotonic()
    reports = [run_schemathesis(server.url, phases, tmp_path / f"run{index}",
                                started + BUDGET_SECONDS)
               for index, phases in enumerate(RUNS)]
    wall = time.monotonic() - started
    log = tmp_path / "allowed.jsonl"
    dropped = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    unexpected = [f for report in reports for f in report.unexpected(allowed)]
    cases = sum(report.cases for report in reports)
    with capsys.disabled():
        phases = ", ".join(f"{name} {count}" for report in reports
                           for name, count in sorted(report.cases_by_phase.items()) if count)
        budget = f", max-examples {MAX_EXAMPLES}" if MAX_EXAMPLES else ""
        print(f"\nschemathesis: {cases} cases ({phases}) in {wall:.0f} s, derandomized"
              f"{budget}; {len(unexpected)} failures, {len(dropped)} allow-listed "
              f"(entries used: {len({d['reason'] for d in dropped})} of {len(allowed)})")
    assert dropped, "the allow-list hook never ran (upload-url's 501 is always dropped)"
    detail = "\n".join(f.describe() for f in unexpected[:40])
    assert not unexpected, f"{len(unexpected)} failures outside the allow-list:\n{detail}"
    assert cases >= MIN_CASES, f"only {cases} cases were generated"
