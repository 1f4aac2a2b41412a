"""The issue's eight hand-made mutants, applied to a copy of the project, each with the tests
that must fail (``python -m tests.mutation hand``).

Each mutant is a list of exact text replacements. A copy of the project in
``.mutation/hand/<n>/`` gets the mutant, pytest runs the named tests there, and the failing
test ids are recorded: the working tree is never touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

COPIED = ("shared", "functions", "localdev", "tests", "main.py", "pyproject.toml")


@dataclass(frozen=True)
class HandMutant:
    """One of the issue's surviving mutants, redone on today's code."""

    number: int
    title: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text)
    tests: tuple[str, ...]


HAND_MUTANTS: tuple[HandMutant, ...] = (
    HandMutant(1, "clamd `ERROR` or empty reply counted as clean (`scanning/clamd.py`)", (
        ("shared/scanning/clamd.py", 'raise ScannerUnavailable("virus scanner gave no answer")',
         "return Verdict(infected=False, bytes_scanned=self._bytes)"),
        ("shared/scanning/clamd.py",
         'raise ScannerUnavailable("virus scanner could not scan the file")',
         "return Verdict(infected=False, bytes_scanned=self._bytes)"),
    ), ("tests/test_scanner_failures.py",)),
    HandMutant(2, "scanner lost mid-upload treated as clean (the ingest's `Digest`)", (
        ("shared/scanning/digest.py", "        self._scan.feed(chunk)\n",
         "        try:\n            self._scan.feed(chunk)\n"
         "        except ScannerUnavailable:\n            pass\n"),
        ("shared/scanning/digest.py", "        verdict = self._scan.finish()\n",
         "        try:\n            verdict = self._scan.finish()\n"
         "        except ScannerUnavailable:\n"
         "            from shared.scanning.base import Verdict\n"
         "            verdict = Verdict(infected=False, bytes_scanned=self.size)\n"),
        ("shared/scanning/digest.py", "from shared.errors import PayloadTooLarge\n",
         "from shared.errors import PayloadTooLarge, ScannerUnavailable\n"),
    ), ("tests/test_scanner_failures.py",)),
    HandMutant(3, "HTTP front: any 200 that is not `infected` is clean, no byte-count check", (
        ("shared/scanning/http.py",
         '    if verdict not in ("clean", "infected") or not isinstance(scanned, int):',
         "    if not isinstance(scanned, int):"),
        ("shared/scanning/http.py",
         "    if expected_bytes is not None and scanned != expected_bytes:", "    if False:"),
    ), ("tests/test_scanner_failures.py",)),
    HandMutant(4, "memory revert may exceed a lowered cap (`memory/service.py`)", (
        ("shared/memory/service.py",
         "lambda _current: truncation.keep_head(old.content, self.max_length)",
         "lambda _current: truncation.Fit(old.content, False, 0)"),
    ), ("tests/contract/test_memory_api.py",)),
    HandMutant(5, "finalize reads the live generation, not the event's (`uploads/finalize.py`)", (
        ("shared/uploads/finalize.py", "obj = self.landing.info(ref.name, ref.generation)",
         "obj = self.landing.info(ref.name)"),
    ), ("tests/test_generation_pinning.py", "tests/test_finalize_edges.py")),
    HandMutant(6, "`if_source_generation_match` dropped from the promotion copy "
               "(`storage/gcs/objects.py`)", (
        ("shared/storage/gcs/objects.py", "if_source_generation_match=source.generation,", ""),
    ), ("tests/test_generation_pinning.py",)),
    HandMutant(7, "local signed-link expiry ignored (`signing.py`)", (
        ("shared/signing.py",
         "if not hmac.compare_digest(good.encode(), given) or expires_n < time.time():",
         "if not hmac.compare_digest(good.encode(), given):"),
    ), ("tests/test_local_signed_links.py", "tests/test_url_signer.py")),
    HandMutant(8, "tickets never expire and the sweep's ticket guard is gone "
               "(`uploads/sweep.py`)", (
        ("shared/uploads/sweep.py",
         "        for doc in self.meta.due_docs(TICKETS, utcnow(), BATCH):",
         "        for doc in []:"),
        ("shared/uploads/sweep.py",
         "        return self.meta.get_doc(TICKETS, ticket_key(workspace_id, "
         "reservation.file_id)) \\\n            is not None",
         "        return False"),
    ), ("tests/test_upload_sweep.py",)),
)


def run_hand(mutant: HandMutant, root: Path, work: Path) -> list[str]:
    """Apply ``mutant`` to a copy of ``root`` in ``work``; the tests that fail there."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, work / name,
                            ignore=shutil.ignore_patterns("__pycache__", "mutants"))
        else:
            shutil.copy2(source, work / name)
    for path, old, new in mutant.edits:
        target = work / path
        text = target.read_text()
        if old not in text:
            raise SystemExit(f"mutant {mutant.number}: {path} no longer contains {old!r}")
        target.write_text(text.replace(old, new, 1))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rf", "--timeout=300", *mutant.tests], cwd=work, text=True,
                          capture_output=True, check=False)
    failed = sorted(set(re.findall(r"^FAILED (\S+)", done.stdout, re.MULTILINE)))
    (work / "pytest.log").write_text(done.stdout + done.stderr)
    return failed
