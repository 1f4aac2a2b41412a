"""Memory append rate and lost appends: one client, then two server processes at once.

Two ``localdev.server`` processes share one storage directory (as two function instances
share one Firestore). The baseline is one client appending to one process; the figure is
two clients per process appending to the same memory together, and then every line is
looked for in the final document: an append that answered 200 but is missing is lost
(the issue's target is zero). Lines are at most 80 characters: the full run's 1,000 (the
issue's workload; about 72,000 characters) stay below the 100,000-character cap, so
truncation cannot explain a missing line. Each append writes the whole text (a snapshot
version), so the rate at 1,000 appends includes a memory that has grown to 72 KB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.client import API, Client, HttpError, run_parallel
from bench.target import Target
from bench.workload import memory_line

ALONE, TOGETHER = "bench_memory_one", "bench_memory_two"


def measure(workdir: Path, source: Path, appends: int) -> dict[str, Any]:
    """Appends per second alone and together (2 processes x 2 clients); lines lost."""
    target = Target(workdir / "memory", source, scanning=False).start(servers=2)
    try:
        alone = Client(target.url, Target.token(ALONE))
        alone.append_memory(memory_line(999_999))  # creates the workspace and its memory
        lines = [memory_line(i) for i in range(appends)]
        alone_s = run_parallel(1, lines, alone.append_memory)
        clients = [Client(s.url, Target.token(TOGETHER)) for s in target.servers]
        clients[0].append_memory(memory_line(999_999))
        lines = [memory_line(10_000 + i) for i in range(appends)]
        # Items alternate between the processes; 4 threads pull from one queue.
        items = [(clients[i % 2], line) for i, line in enumerate(lines)]
        together_s = run_parallel(4, items, lambda item: item[0].append_memory(item[1]))
        status, _, data = clients[0].request("GET", f"{API}/memory")
        if status != 200:
            raise HttpError(f"GET /memory: {status}")
        content = json.loads(data)["content"]
        lost = sum(1 for line in lines if line.strip() not in content)
        return {"appends": appends, "alone_per_s": appends / alone_s,
                "together_per_s": appends / together_s,
                "together_vs_alone": alone_s / together_s, "lost": lost}
    finally:
        target.stop()
