"""``python -m tests.mutation run NAME`` mutates one module; ``report`` writes tests/MUTATION.md;
``hand`` re-applies the issue's eight hand-made mutants and records which tests fail.

``make mutation-NAME`` and ``make mutation`` (every module, then the report) call these.
Each run starts from scratch (the module's ``mutants/`` is deleted first), so the report is
reproducible from the commit alone.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.mutation import BY_NAME, MODULES, Module
from tests.mutation.hand import HAND_MUTANTS, run_hand

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
REPORT = ROOT / "tests" / "MUTATION.md"
LINKED = ("shared", "functions", "localdev", "tests", "main.py")
BEGIN, END = "<!-- mutation:begin -->", "<!-- mutation:end -->"
HAND_BEGIN, HAND_END = "<!-- hand:begin -->", "<!-- hand:end -->"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def _toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def prepare(module: Module) -> Path:
    """A fresh work directory whose pyproject mutates ``module`` with its tests only."""
    work = WORK / module.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    config = (ROOT / "pyproject.toml").read_text()
    config += "\n[tool.mutmut]\n" + "\n".join([
        'source_paths = ["shared"]',
        f"only_mutate = {_toml_list([module.path])}",
        'also_copy = ["functions/", "localdev/", "main.py"]',
        f"pytest_add_cli_args_test_selection = {_toml_list(module.tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--timeout=120"]',
        "use_git_change_detection = false",
        "track_dependencies = false",
    ]) + "\n"
    (work / "pyproject.toml").write_text(config)
    return work


def mutmut(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run mutmut in ``work``; its progress output goes to ``work/mutmut.log``."""
    binary = Path(sys.executable).parent / "mutmut"
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    with (work / "mutmut.log").open("a") as log:
        return subprocess.run([str(binary), *args], cwd=work, env=env, text=True,
                              check=False, stdout=log, stderr=subprocess.STDOUT)


def adopt_orphans() -> None:
    """Become the reaper of our descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    A mutant that times out is killed before its fixtures stop the services they started
    (clamd, fake-gcs-server); those then become children of this process, not of init, and
    ``stop_orphans`` ends them by PID.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def stop_orphans() -> int:
    """Terminate every process left as our direct child; how many there were."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                found.append(int(entry.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while found and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        found = [pid for pid in found if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(found)


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
names, path = json.load(sys.stdin)
print(json.dumps({name: get_diff_for_mutant(name, path=path).strip() for name in names}))
"""


def diffs_of(work: Path, module: Module, names: list[str]) -> dict[str, str]:
    """Each named mutant's diff, from one process (``mutmut show`` costs one per mutant)."""
    done = subprocess.run([sys.executable, "-c", _DIFFS], cwd=work, text=True, check=True,
                          input=json.dumps([names, module.path]), capture_output=True)
    return dict(json.loads(done.stdout))


def statuses(work: Path, module: Module) -> dict[str, str]:
    """Each mutant's status, from mutmut's meta file."""
    from mutmut.stats import status_by_exit_code

    meta = json.loads((work / "mutants" / f"{module.path}.meta").read_text())
    return {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}


def run(module: Module) -> dict[str, object]:
    """Mutate one module; its counts, survivors (with diffs) and wall time."""
    work = prepare(module)
    started = time.monotonic()
    try:
        done = mutmut(work, "run", "--max-children", "2")
    finally:
        stop_orphans()
    seconds = round(time.monotonic() - started)
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed on {module.name} (exit {done.returncode}); "
                         f"see {work / 'mutmut.log'}")
    found = statuses(work, module)
    counts = Counter("killed" if s in KILLED else s for s in found.values())
    diffs = diffs_of(work, module, [n for n, s in sorted(found.items()) if s not in KILLED])
    survivors = {name: {"status": found[name], "diff": diff} for name, diff in diffs.items()}
    result = {"module": module.name, "path": module.path, "tests": list(module.tests),
              "total": len(found), "counts": dict(counts), "seconds": seconds,
              "survivors": survivors}
    (work / "result.json").write_text(json.dumps(result, indent=1))
    print(f"{module.name}: {counts['killed']}/{len(found)} killed in {seconds} s")
    return result


def _score(result: dict[str, object]) -> float:
    counts: dict[str, int] = result["counts"]  # type: ignore[assignment]
    total = int(result["total"])  # type: ignore[arg-type]
    return 100.0 * counts.get("killed", 0) / total if total else 100.0


def render(results: list[dict[str, object]]) -> str:
    """The generated part of tests/MUTATION.md."""
    lines = ["", "| module | file | mutants | killed | survived | no tests | score | "
             "run time |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    total_seconds = 0
    for result in results:
        counts: dict[str, int] = result["counts"]  # type: ignore[assignment]
        other = int(result["total"]) - counts.get("killed", 0) - counts.get("survived", 0)  # type: ignore[arg-type]
        total_seconds += int(result["seconds"])  # type: ignore[arg-type]
        lines.append(f"| {result['module']} | `{result['path']}` | {result['total']} | "
                     f"{counts.get('killed', 0)} | {counts.get('survived', 0)} | {other} | "
                     f"{_score(result):.1f}% | {result['seconds']} s |")
    lines += ["", f"Whole run: {total_seconds // 60} min {total_seconds % 60} s of mutmut "
              "time on this 2-core machine.", ""]
    for result in results:
        survivors: dict[str, dict[str, str]] = result["survivors"]  # type: ignore[assignment]
        if not survivors:
            continue
        lines += [f"### Not killed in {result['module']} (`{result['path']}`)", ""]
        for name, info in survivors.items():
            lines += [f"- `{name}` ({info['status']})", "", "```diff", info["diff"], "```",
                      ""]
    return "\n".join(lines)


def _replace_section(begin: str, end: str, body: str) -> None:
    """Replace the text between ``begin`` and ``end`` in tests/MUTATION.md."""
    text = REPORT.read_text()
    head, found, rest = text.partition(begin)
    if not found:
        raise SystemExit(f"{REPORT} has no {begin} marker")
    _, _, tail = rest.partition(end)
    REPORT.write_text(head + begin + "\n" + body + "\n" + end + tail)


def hand() -> None:
    """Apply each hand-made mutant to a copy; the table of the tests that fail."""
    lines = ["| # | mutant | tests that fail |", "|---|---|---|"]
    survived = []
    for mutant in HAND_MUTANTS:
        failed = run_hand(mutant, ROOT, WORK / "hand" / str(mutant.number))
        shown = ", ".join(f"`{name}`" for name in failed[:4])
        more = f" and {len(failed) - 4} more" if len(failed) > 4 else ""
        lines.append(f"| {mutant.number} | {mutant.title} | "
                     f"{len(failed)}: {shown or '**none**'}{more} |")
        print(f"hand mutant {mutant.number}: {len(failed)} failing tests")
        if not failed:
            survived.append(mutant.number)
    _replace_section(HAND_BEGIN, HAND_END, "\n".join(lines))
    if survived:
        raise SystemExit(f"hand mutants survived: {survived}")


def report() -> None:
    """Gather every module's result.json into tests/MUTATION.md's generated section."""
    results = []
    for module in MODULES:
        path = WORK / module.name / "result.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
    _replace_section(BEGIN, END, render(results))
    for result in results:
        print(f"{result['module']}: {_score(result):.1f}% killed")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").add_argument("names", nargs="+", choices=sorted(BY_NAME))
    sub.add_parser("report")
    sub.add_parser("hand")
    args = parser.parse_args()
    if args.command == "run":
        adopt_orphans()
        for name in args.names:
            run(BY_NAME[name])
    elif args.command == "hand":
        hand()
    else:
        report()


if __name__ == "__main__":
    main()
