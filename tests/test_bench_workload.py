"""The benchmark's workload is the same in every process and run (before/after figures
compare the same files), and its queries have something to find."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from bench.workload import MARKER, file_spec, memory_line

ROOT = Path(__file__).resolve().parent.parent
DIGEST = ("import hashlib; from bench.workload import file_spec, memory_line; "
          "h = hashlib.sha256(); "
          "[h.update(repr(file_spec(i)).encode() + memory_line(i).encode()) for i in range(200)]; "
          "print(h.hexdigest())")


def _digest() -> str:
    h = hashlib.sha256()
    for i in range(200):
        h.update(repr(file_spec(i)).encode() + memory_line(i).encode())
    return h.hexdigest()


def test_workload_is_the_same_in_another_process_with_another_hash_seed() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", DIGEST], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True, timeout=60)
    assert other.stdout.strip() == _digest()


def test_workload_has_the_marker_and_every_kind() -> None:
    specs = [file_spec(i) for i in range(400)]
    assert any(MARKER in s.description for s in specs)
    assert {s.kind for s in specs} == {"document", "image", "other", "audio"}
    assert all(len(s.content) == 1024 for s in specs)
    assert len({s.path for s in specs}) == len(specs)
