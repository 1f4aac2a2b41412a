"""The Schemathesis allow-list and the run's NDJSON events: cases run, failures left.

A failure is one failed check on one request: the check, the operation, the status and the
``error`` message of the answer, and the request line and body. The allow-list
(``tests/schemathesis-allow.yaml``) names failures that are disagreements between the checker
and what the OpenAPI document can say, each with its reason. ``tests/schemathesis_hooks.py``
drops those inside the run (so they never end a stateful scenario early);
``tests/test_schemathesis.py`` reads the events here and fails on any failure left.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ALLOW_KEYS = {"check", "operation", "status", "error", "request", "reason"}


@dataclass(frozen=True)
class Failure:
    """One failed check on one generated request."""

    checks: tuple[str, ...]  # the checks that report this kind of failure
    code: str
    operation: str
    phase: str
    case_id: str
    status: int | None
    error: str
    request: str

    def describe(self) -> str:
        """One line for the test output."""
        return (f"{self.code} {'/'.join(self.checks)} on {self.operation} ({self.phase}, case "
                f"{self.case_id}): {self.status} {self.error!r}; request {self.request[:300]!r}")


@dataclass(frozen=True)
class Allowed:
    """One allow-list entry: which failures it covers and why they are not bugs."""

    check: str
    operation: str
    reason: str
    status: int | None = None
    error: re.Pattern[str] | None = None
    request: re.Pattern[str] | None = None

    def covers(self, failure: Failure) -> bool:
        """Every given field must match (regexes by ``search``)."""
        return (self.check in failure.checks
                and re.fullmatch(self.operation, failure.operation) is not None
                and (self.status is None or failure.status == self.status)
                and (self.error is None or self.error.search(failure.error) is not None)
                and (self.request is None or self.request.search(failure.request) is not None))


def load_allow_list(path: Path) -> list[Allowed]:
    """The allow-list file; every entry must give a check, an operation and a reason."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out: list[Allowed] = []
    for entry in entries:
        unknown = set(entry) - ALLOW_KEYS
        assert not unknown, f"{path}: unknown keys {sorted(unknown)} in {entry}"
        assert entry.get("check") and entry.get("operation"), f"{path}: {entry}"
        assert len(str(entry.get("reason", "")).split()) >= 5, (
            f"{path}: every entry needs a reason in words: {entry}")
        out.append(Allowed(
            check=entry["check"], operation=entry["operation"], reason=entry["reason"],
            status=entry.get("status"),
            error=re.compile(entry["error"]) if entry.get("error") else None,
            request=re.compile(entry["request"]) if entry.get("request") else None))
    return out


def _decode(body: Any) -> str:
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"]).decode("utf-8", "replace")
    return "" if body is None else str(body)


def error_message(text: str) -> str:
    """The ``error`` of a JSON error body (or the start of any other body)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    return str(data.get("error", "")) if isinstance(data, dict) else text[:200]


@dataclass
class RunReport:
    """What one Schemathesis run did."""

    cases: int = 0
    cases_by_phase: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    errored_scenarios: int = 0
    fatal: list[str] = field(default_factory=list)
    finished: bool = False
    seconds: float = 0.0

    def unexpected(self, allowed: Iterable[Allowed]) -> list[Failure]:
        """Failures no allow-list entry covers."""
        entries = list(allowed)
        return [f for f in self.failures if not any(a.covers(f) for a in entries)]


def read_events(path: Path) -> RunReport:
    """Parse the NDJSON events of one ``schemathesis run``."""
    report = RunReport()
    seen: set[tuple[str, str, str]] = set()
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            event = json.loads(line)
            kind, data = next(iter(event.items()))
            if kind == "EngineFinished":
                report.finished = data.get("stop_reason") == "completed"
                report.seconds = float(data.get("running_time", 0.0))
            elif kind in {"NonFatalError", "FatalError"}:
                report.fatal.append(json.dumps(data)[:500])
            elif kind == "ScenarioFinished":
                if data.get("status") == "error":
                    report.errored_scenarios += 1
                _scenario(report, data, seen)
    return report


def _scenario(report: RunReport, data: dict[str, Any], seen: set[tuple[str, str, str]]) -> None:
    recorder = data.get("recorder") or {}
    cases = recorder.get("cases") or {}
    report.cases += len(cases)
    report.cases_by_phase[data.get("phase", "?")] += len(cases)
    interactions = recorder.get("interactions") or {}
    for case_id, checks in (recorder.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "failure":
                continue
            key = (case_id, check["name"], data.get("phase", ""))
            if key in seen:
                continue
            seen.add(key)
            info = (check.get("failure_info") or {}).get("failure") or {}
            exchange = interactions.get(case_id) or {}
            response = exchange.get("response") or {}
            request = exchange.get("request") or {}
            text = _decode(response.get("content"))
            report.failures.append(Failure(
                checks=(check["name"],), code=info.get("code", "?"),
                operation=info.get("operation", recorder.get("label", "?")),
                phase=data.get("phase", "?"), case_id=case_id,
                status=response.get("status_code"), error=error_message(text),
                request=f"{request.get('method', '')} {request.get('uri', '')} "
                        f"{_decode(request.get('body'))}"))
