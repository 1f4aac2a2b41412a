"""Cold import time of each function module against functions-framework's own import.

A Cloud Function's cold start imports ``main.py``'s module before the first request; the
framework itself must be imported anyway, so it is the baseline (the issue's target: a
module costs at most 1.3x the framework). Each figure is the best of several fresh
interpreters of the tree's own ``.venv`` (the least disturbed by the shared cores), timed
inside the interpreter so its start-up is not counted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

BASELINE = "functions_framework"
SKIP = {"__init__", "_http"}
PROBE = ("import time; t = time.perf_counter(); import {module}; "
         "print(time.perf_counter() - t)")


def modules(source: Path) -> list[str]:
    """The tree's deployed function modules (``functions/*.py`` but the helpers)."""
    return [f"functions.{p.stem}" for p in sorted((source / "functions").glob("*.py"))
            if p.stem not in SKIP]


def _best(source: Path, module: str, runs: int, env: dict[str, str]) -> float:
    python = str(source / ".venv" / "bin" / "python")
    times = []
    for _ in range(runs):
        done = subprocess.run([python, "-c", PROBE.format(module=module)], cwd=source,
                              env=env, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"import {module}: {done.stderr[-500:]}")
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return min(times)


def measure(source: Path, runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Milliseconds per module and its ratio to the framework's import."""
    base = _best(source, BASELINE, runs, env)
    out: dict[str, Any] = {"runs": runs, "baseline_ms": base * 1000, "modules": {}}
    for module in modules(source):
        took = _best(source, module, runs, env)
        out["modules"][module] = {"ms": took * 1000, "vs_framework": took / base}
    return out
