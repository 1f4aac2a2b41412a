"""The scale benchmark (issue 15): one table, one JSON artefact under ``bench/results/``.

Every figure is a ratio against a baseline measured in the same run, so two runs on a busy
machine (or two source trees) compare by their ratios rather than raw milliseconds:

- uploads: ``POST /files`` files/s with scanning on, 1 and 4 clients, vs clamd's own
  INSTREAM rate on the same files (``bench.uploads``);
- queries: median/p99 of /files filters, /files/search, /logs filters (one matching
  nothing), /logs?q= and /search at a small and a large size: growth large/small and the
  speed-up over a full scan (``bench.queries``, ``bench.fullscan``);
- memory: appends/s from two processes at once vs one client, and lost appends
  (``bench.memory_rate``);
- imports: each function module's cold import vs functions-framework's (``bench.imports``);
- backends: the same queries as store calls on the Firestore emulator and on SQLite at one
  size (10,000 files), and every Firestore query shape checked against the declared
  indexes (``bench.backends``; this tree only).

The full run (``make bench``) also runs the older media/upload benchmarks of this tree and
puts their verdict lines in the table. ``--source DIR`` runs the same workload against
another checkout (its own ``.venv``), e.g. the baseline commit for before/after figures:

    .venv/bin/python -m bench.run --quick                   # ~3 minutes
    .venv/bin/python -m bench.run                           # full: 2k and 50k files
    .venv/bin/python -m bench.run --quick --source /work/cibase --label before
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import backends, imports, memory_rate, queries, uploads
from bench.target import HERE, SECRET, Target

RESULTS = HERE / "bench" / "results"
LEGACY = ("bench.upload_memory", "bench.media_datauri", "bench.media_oversize",
          "bench.media_body_rss")


class Mode:
    """Sizes of one run: ``quick`` fits in about three minutes, full in about twenty."""

    def __init__(self, quick: bool) -> None:
        self.name = "quick" if quick else "full"
        self.upload_files = 100 if quick else 400
        self.sizes = (500, 5000) if quick else (2000, 50_000)
        self.reps = 15 if quick else 50
        self.scan_reps = 3 if quick else 5
        self.appends = 150 if quick else 1000  # the workload: 1,000 appends
        self.import_runs = 5 if quick else 9
        self.backend_size = 1000 if quick else 10_000
        self.backend_reps = 5 if quick else 10


Row = tuple[str, str, str, str, str]


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def rows(result: dict[str, Any]) -> list[Row]:
    """The table: section, measure, value, its baseline, ratio."""
    out: list[Row] = []
    up = result.get("uploads")
    if up:
        for n in (1, 4):
            out.append(("uploads", f"POST /files, {n} client(s), scanning (files/s)",
                        f"{up[f'http_{n}c_per_s']:.1f}",
                        f"clamd alone {up[f'clamd_{n}c_per_s']:.1f}",
                        f"{up[f'vs_clamd_{n}c']:.2f}x"))
        out.append(("uploads", "4 clients vs 1 (files/s)", f"{up['http_4c_per_s']:.1f}",
                    f"1 client {up['http_1c_per_s']:.1f}", f"{up['scaling_4c_vs_1c']:.2f}x"))
        for n in (1, 4):
            if f"server_cpu_ms_{n}c" in up:  # results written before these figures lack them
                server, clamd = up[f"server_cpu_ms_{n}c"], up[f"clamd_cpu_ms_{n}c"]
                out.append(("uploads", f"server CPU per upload, {n} client(s)", _ms(server),
                            f"clamd {_ms(clamd)} a scan",
                            f"{server / clamd:.1f}x" if clamd else "-"))
    qs = result.get("queries")
    if qs:
        small, large = (str(s) for s in qs["sizes"])
        for name, q in qs["queries"].items():
            out.append(("queries", f"{name}: median @{large} (p99) vs @{small}",
                        f"{_ms(q[large]['median_ms'])} ({_ms(q[large]['p99_ms'])})",
                        _ms(q[small]["median_ms"]), f"{q['growth']:.2f}x growth"))
            out.append(("queries", f"{name}: full scan @{large} / median",
                        _ms(q[large]["median_ms"]), f"scan {_ms(q['fullscan_ms'])}",
                        f"{q['vs_fullscan']:.1f}x faster"))
        for name in qs["unsupported"]:
            out.append(("queries", f"{name}", "n/a", "n/a", "not in this API"))
    mem = result.get("memory")
    if mem:
        out.append(("memory", f"{mem['appends']} appends, 2 processes x 2 clients (/s)",
                    f"{mem['together_per_s']:.1f}", f"1 client {mem['alone_per_s']:.1f}",
                    f"{mem['together_vs_alone']:.2f}x"))
        out.append(("memory", "appends lost (answered 200, missing)", str(mem["lost"]),
                    "0", "-"))
    imp = result.get("imports")
    if imp:
        for module, m in imp["modules"].items():
            out.append(("imports", f"import {module}", _ms(m["ms"]),
                        f"functions_framework {_ms(imp['baseline_ms'])}",
                        f"{m['vs_framework']:.2f}x"))
    be = result.get("backends")
    if be:
        size = be["size"]
        for name, fs in be["firestore"].items():
            sq = be["sqlite"][name]
            measure = f"{name}: Firestore emulator median @{size} (p99)"
            if "error" in fs or "error" in sq:
                out.append(("backends", measure, f"failed: {fs.get('error', 'ok')}"[:90],
                            f"sqlite {sq.get('error') or _ms(sq['median_ms'])}", "-"))
                continue
            out.append(("backends", measure, f"{_ms(fs['median_ms'])} ({_ms(fs['p99_ms'])})",
                        f"sqlite {_ms(sq['median_ms'])}",
                        f"{fs['median_ms'] / sq['median_ms']:.1f}x sqlite"))
        out.append(("backends", "Firestore query shapes without a declared index",
                    str(len(be["firestore_unindexed"])),
                    f"{be['firestore_shapes']} shapes recorded", "-"))
    for module, line in result.get("legacy", {}).items():
        out.append(("legacy", module, line, "", ""))
    for section, error in result.get("failed", {}).items():
        out.append((section, "the section failed", error[:90], "", "-"))
    return out


def table(result: dict[str, Any]) -> str:
    """``rows`` as aligned text, under a heading naming the tree and mode."""
    body = rows(result)
    heads = ("section", "measure", "value", "baseline (same run)", "ratio")
    widths = [max(len(r[i]) for r in [heads, *body]) for i in range(5)]
    spent = ", ".join(f"{name} {seconds:.0f} s"
                      for name, seconds in result.get("section_s", {}).items())
    lines = [f"bench.run {result['mode']} | source {result['source']} @ {result['commit']} | "
             f"{result['elapsed_s']:.0f} s" + (f" ({spent})" if spent else ""),
             "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


def legacy() -> dict[str, str]:
    """This tree's older benchmarks; each one's verdict (``target: ...``) line."""
    out = {}
    for module in LEGACY:
        done = subprocess.run([sys.executable, "-m", module], cwd=HERE, capture_output=True,
                              text=True, timeout=900)
        verdicts = [ln for ln in done.stdout.splitlines() if ln.startswith("target:")]
        out[module] = (verdicts[-1] if verdicts and not done.returncode
                       else f"exit {done.returncode}: {(done.stdout + done.stderr)[-200:]}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the sections, print the table, write ``bench/results/<label>.json``."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (~3 minutes)")
    parser.add_argument("--source", type=Path, default=HERE,
                        help="the checkout to serve and import (its own .venv)")
    parser.add_argument("--label", default="", help="the artefact's name (default: mode-commit)")
    parser.add_argument("--only", default="uploads,queries,memory,imports,backends,legacy",
                        help="comma-separated sections")
    parser.add_argument("--sizes", default="",
                        help="the query section's sizes, small,large (default: the mode's)")
    parser.add_argument("--no-legacy", action="store_true",
                        help="skip the older media/upload benchmarks of the full run")
    args = parser.parse_args(argv)
    mode, source = Mode(args.quick), args.source.resolve()
    if args.sizes:
        small, large = (int(n) for n in args.sizes.split(","))
        mode.sizes = (small, large)
    only = set(args.only.split(","))
    if args.quick or args.no_legacy or source != HERE:
        only.discard("legacy")  # they import this tree's modules, and take minutes
    if source != HERE:
        only.discard("backends")  # store calls of this tree's modules
    started = time.monotonic()
    result: dict[str, Any] = {"mode": mode.name, "source": str(source),
                              "commit": Target(Path("/nonexistent"), source).commit(),
                              "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    env = {**os.environ, "AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET,
           "WORKSPACE_STORAGE_DIR": tempfile.gettempdir()}
    with tempfile.TemporaryDirectory(prefix="bench-run-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        sections: dict[str, Callable[[], Any]] = {
            "uploads": lambda: uploads.measure(work, source, mode.upload_files),
            "queries": lambda: queries.measure(work, source, mode.sizes, mode.reps,
                                               mode.scan_reps),
            "memory": lambda: memory_rate.measure(work, source, mode.appends),
            "backends": lambda: backends.measure(work / "backends", mode.backend_size,
                                                 mode.backend_reps),
            "imports": lambda: imports.measure(source, mode.import_runs, env),
            "legacy": legacy,
        }
        spent = result["section_s"] = {}  # the full run must fit in 20 minutes (issue 15)
        for name, run in sections.items():
            if name not in only:
                continue
            section_started = time.monotonic()
            try:
                result[name] = run()
            except Exception as exc:  # noqa: BLE001 - one broken section must not cost the others
                traceback.print_exc()
                result.setdefault("failed", {})[name] = repr(exc)[:300]
            spent[name] = time.monotonic() - section_started
    result["elapsed_s"] = time.monotonic() - started
    RESULTS.mkdir(exist_ok=True)
    label = args.label or f"{mode.name}-{result['commit']}"
    path = RESULTS / f"{label}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"written: {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
