"""Data-URI decoding: the streaming decoder against plain ``base64.b64decode`` + a file write.

All in one run, on the same 10 MiB payload (median of several rounds):

- baseline: ``base64.b64decode`` of the whole payload, then one ``write`` to a file;
- decoder: ``DataUri.chunks`` (sliced, capped, forgiving-but-strict) written to a file.
  Target (issue 6): at most 1.5x the baseline;
- pipeline: ``MediaService.store`` with scanning off (decode + cap + SHA-256 + MIME sniff +
  staging with fsync + create-only link into the exec dir), and, when clamd is installed,
  the same with clamd scanning every byte. These are printed for context (no target).

Peak Python memory (tracemalloc) is printed for a 10 MiB and a 40 MiB payload: the
decoder's peak stays at about one slice while ``b64decode`` holds the whole output.

    .venv/bin/python -m bench.media_datauri [--mib 10] [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from shared.config import Settings
from shared.media import ExecutionContext, MediaService
from shared.media.datauri import DataUri
from shared.media.fetch import Fetcher, FetchLimits
from shared.media.netpolicy import NetPolicy
from shared.scanning.base import Scanner
from shared.scanning.disabled import DisabledScanner

MiB = 1024 * 1024
TARGET = 1.5


def baseline(uri: str, out: Path) -> None:
    """What a naive caller does: decode everything, write it."""
    data = base64.b64decode(uri.split(",", 1)[1])
    with open(out, "wb") as handle:
        handle.write(data)


def streaming(uri: str, out: Path) -> None:
    """The service's decoder, slice by slice, into a file."""
    with open(out, "wb") as handle:
        for chunk in DataUri.parse(uri).chunks(1 << 40):
            handle.write(chunk)


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base


def service(workdir: Path, scanner: Scanner) -> MediaService:
    """A media service on embedded backends in ``workdir`` (no network needed)."""
    from shared.files.service import FileService
    from shared.metadata.sqlite import SqliteMetadataStore
    from shared.storage.local import LocalBlobStore

    settings = Settings(workspace_storage_dir=str(workdir / "storage"), max_file_size_mb=512,
                        media_exec_root=str(workdir / "exec"))
    files = FileService(settings, LocalBlobStore(settings.workspace_storage_dir),
                        SqliteMetadataStore(settings.workspace_storage_dir), scanner, None)
    return MediaService(settings, files, scanner, Fetcher(NetPolicy(), FetchLimits()))


def main() -> None:
    """Run every measurement and print ratios against the in-run baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    payload = os.urandom(args.mib * MiB)
    uri = "data:application/octet-stream;base64," + base64.b64encode(payload).decode()
    with tempfile.TemporaryDirectory(prefix="bench-datauri-") as tmp:
        work = Path(tmp)
        out = work / "out.bin"
        base = median_seconds(lambda: baseline(uri, out), args.rounds)
        assert out.read_bytes() == payload
        decoder = median_seconds(lambda: streaming(uri, out), args.rounds)
        assert out.read_bytes() == payload
        print(f"{args.mib} MiB data URI, median of {args.rounds}:")
        print(f"  baseline  b64decode + write        {base * 1000:7.1f} ms")
        print(f"  decoder   DataUri.chunks + write   {decoder * 1000:7.1f} ms  "
              f"ratio {decoder / base:4.2f}x (target <= {TARGET}x)")
        ctx = ExecutionContext("bench", "exec")
        plain = service(work / "plain", DisabledScanner())
        import logging

        logging.getLogger("shared.scanning.disabled").setLevel(logging.ERROR)
        logging.getLogger("shared.media.service").setLevel(logging.WARNING)
        full = median_seconds(lambda: plain.store(ctx, uri, "for_local_processing"),
                              args.rounds)
        print(f"  pipeline  store(), scanning off    {full * 1000:7.1f} ms  "
              f"ratio {full / base:4.2f}x (decode+sha256+sniff+fsync+link)")
        _clamd_round(work, ctx, uri, base, args)
        for size in (args.mib, 4 * args.mib):
            text = "data:;base64," + base64.b64encode(os.urandom(size * MiB)).decode()
            naive = peak_bytes(lambda t=text: baseline(t, out))
            ours = peak_bytes(lambda t=text: streaming(t, out))
            print(f"  peak Python memory, {size:3d} MiB payload: b64decode {naive / MiB:6.1f} MiB, "
                  f"decoder {ours / MiB:5.1f} MiB")
        verdict = "PASS" if decoder / base <= TARGET else "FAIL"
        print(f"target: decoder <= {TARGET}x baseline -> {verdict}")
        if verdict == "FAIL":
            raise SystemExit(1)


def _clamd_round(work: Path, ctx: ExecutionContext, uri: str, base: float,
                 args: argparse.Namespace) -> None:
    from localdev.clamd import ClamdProcess, find_clamd
    from shared.scanning.clamd import ClamdScanner

    if find_clamd() is None:
        print("  pipeline  store(), clamd            (clamd not installed; skipped)")
        return
    clamd = ClamdProcess(work / "clamd", max_file_mb=args.mib * 2 + 16).start()
    try:
        scanned = service(work / "scanned", ClamdScanner("127.0.0.1", clamd.port))
        took = median_seconds(lambda: scanned.store(ctx, uri, "for_local_processing"),
                              max(3, args.rounds // 2))
        print(f"  pipeline  store(), clamd scanning  {took * 1000:7.1f} ms  "
              f"ratio {took / base:4.2f}x")
    finally:
        clamd.stop()


if __name__ == "__main__":
    main()
