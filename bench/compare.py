"""Before/after: two ``bench.run`` artefacts side by side, as a Markdown table.

Each line is one figure of the table ``bench.run`` prints, with the ratio of each run
(every ratio is against a baseline measured in that same run, so two runs on a busy shared
machine compare by their ratios, not by raw times):

    .venv/bin/python -m bench.compare bench/results/before.json bench/results/after.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.run import rows


def _by_measure(result: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {(section, measure): (value, base, ratio)
            for section, measure, value, base, ratio in rows(result)}


def markdown(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A table: section, measure, then value / baseline / ratio of each run."""
    old, new = _by_measure(before), _by_measure(after)
    keys = list(dict.fromkeys([*old, *new]))
    missing = ("n/a", "", "n/a")
    lines = [f"before: `{before['source']}` @ {before['commit']} ({before['mode']}, "
             f"{before['elapsed_s']:.0f} s); after: `{after['source']}` @ {after['commit']} "
             f"({after['mode']}, {after['elapsed_s']:.0f} s)", "",
             "| section | measure | before | before ratio | after | after ratio |",
             "|---|---|---|---|---|---|"]
    for key in keys:
        b, a = old.get(key, missing), new.get(key, missing)
        lines.append(f"| {key[0]} | {key[1]} | {_cell(b)} | {b[2]} | {_cell(a)} | {a[2]} |")
    return "\n".join(lines)


def _cell(figure: tuple[str, str, str]) -> str:
    value, base, _ = figure
    return f"{value} (vs {base})" if base and base != "n/a" else value


def main(argv: list[str] | None = None) -> None:
    """Print the table for two artefacts."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    print(markdown(json.loads(args.before.read_text()), json.loads(args.after.read_text())))


if __name__ == "__main__":
    main()
